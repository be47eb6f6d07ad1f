/**
 * Fences: events published after a run's last measured event, counted by no one, so that measured events
 * the broker dropped at the end of the run show as offset gaps. A drop is visible to a subscriber only when
 * a later event arrives; with no later event, a tail the broker dropped under its own queue bounds (a
 * --broker's, or bounds the user set) read as unaccounted and made the run INVALID at random. A fence the
 * broker drops too (the subscriber still catching up, its queue full) is followed by another, after the
 * subscribers went quiet.
 */
import type { FelixClient } from '../client/index.js';
import { allocatePayload, writeStamp } from './stamp.js';

/** The sequence number a fence carries: beyond any run's (the header holds a uint32). */
export const FENCE_SEQ = 0xffff_ffff;

/** Fences sent at most, each followed by up to --idle-ms of silence. */
const MAX_FENCES = 3;

/**
 * Publishes a fence to every stream and waits (`settled`: true once the measured deliveries are all
 * accounted, false after a silence), up to MAX_FENCES times while not settled.
 */
export async function fenceUntilSettled(
  client: FelixClient,
  streams: readonly string[],
  payloadBytes: number,
  settled: () => Promise<boolean>,
): Promise<void> {
  const payload = allocatePayload(payloadBytes);
  for (let i = 0; i < MAX_FENCES; i++) {
    writeStamp(payload, performance.now(), FENCE_SEQ);
    await Promise.all(streams.map((stream) => client.publish(stream, payload)));
    if (await settled()) return;
  }
}
