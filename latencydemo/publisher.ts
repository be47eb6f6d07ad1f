/**
 * The load: Felix's publisher, with its ack modes. Batch 1 without --binary publishes one acknowledged
 * message at a time (ack per_message, each awaited), the latency-focused mode. Everything else goes out as
 * unacknowledged batches (publishBatch, ack none), pipelined: at most --pub-window batches are in flight,
 * that is published and not yet delivered to every subscriber (the subscribers are in this process, so the
 * publisher knows). Without that bound (--pub-window 0, Felix's open loop) a run smaller than the send
 * windows is queued whole in the broker and the transport, and its latency is the length of that queue.
 */
import { performance } from 'node:perf_hooks';
import type { FelixClient, PublishOptions } from '../client/index.js';
import type { CaseConfig } from './cases.js';
import { allocatePayload, eventBytes, writeStamp } from './stamp.js';
import type { Tally } from './subscribers.js';

/** Batches handed to the SDK per event-loop turn at most, so the transport flushes as the load goes out. */
export const TURN_BATCHES = 32;
/** Payload bytes handed to the SDK per event-loop turn at most (at least one batch). */
export const TURN_BYTES = 256 * 1024;

const NO_ACK: PublishOptions = Object.freeze({ ack: 'none' });

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Felix's rule: acknowledged publishes only in the latency-focused mode (batch 1, not --binary). */
export function usesAcks(c: Pick<CaseConfig, 'batch' | 'binary'>): boolean {
  return c.batch <= 1 && !c.binary;
}

/** The deliveries the publisher's window is measured against (the case's SubscriberGroup). */
export interface DeliveryFlow {
  /** Deliveries received or reported dropped so far, both phases, all subscribers. */
  readonly accounted: number;
  waitUntil(tally: Tally, target: number, idleMs: number): Promise<boolean>;
}

export class LoadPublisher {
  /** Events handed to the SDK so far (both phases). */
  published = 0;
  readonly warnings: string[] = [];
  // One buffer per batch slot, stamped afresh for every batch: the SDK copies payloads into the frame
  // before publish returns, so the demo itself allocates nothing per event.
  private readonly slots: Buffer[];
  private readonly eventBytes: number;
  /** Deliveries allowed in flight: window batches × batch × fanout; 0 for no bound. */
  private windowDeliveries: number;

  constructor(
    private readonly client: FelixClient,
    private readonly settings: CaseConfig,
    private readonly streams: readonly string[],
    private readonly flow: DeliveryFlow,
  ) {
    this.slots = Array.from({ length: settings.batch }, () => allocatePayload(settings.payload));
    this.eventBytes = eventBytes(settings.payload);
    this.windowDeliveries = settings.pubWindow * settings.batch * settings.fanout;
  }

  /** Publishes `count` events numbered from `firstSeq`, rotating batches over the streams from stream 0. */
  async publishPhase(count: number, firstSeq: number): Promise<void> {
    if (count === 0) return;
    if (usesAcks(this.settings)) await this.publishAcked(count, firstSeq);
    else await this.publishPipelined(count, firstSeq);
    // Written to the transport (ack none) or acknowledged: the phase is out of the publisher.
    await this.client.flush();
  }

  private async publishAcked(count: number, firstSeq: number): Promise<void> {
    const payload = this.slots[0]!;
    const streams = this.streams;
    for (let i = 0; i < count; i++) {
      writeStamp(payload, performance.now(), firstSeq + i);
      await this.client.publish(streams[i % streams.length]!, payload);
      this.published++;
    }
  }

  private async publishPipelined(count: number, firstSeq: number): Promise<void> {
    const { batch } = this.settings;
    const streams = this.streams;
    const admissions: Promise<void>[] = [];
    let turnBytes = 0;
    let seq = firstSeq;
    let remaining = count;
    for (let k = 0; remaining > 0; k++) {
      const n = Math.min(batch, remaining);
      if (this.windowDeliveries > 0 && this.inFlight() + n * this.settings.fanout > this.windowDeliveries) {
        await Promise.all(admissions);
        admissions.length = 0;
        turnBytes = 0;
        await this.waitForRoom();
      }
      const payloads = n === batch ? this.slots : this.slots.slice(0, n);
      const sentAt = performance.now();
      for (let i = 0; i < n; i++) writeStamp(payloads[i]!, sentAt, seq++);
      admissions.push(this.client.publishBatch(streams[k % streams.length]!, payloads, NO_ACK));
      turnBytes += n * this.eventBytes;
      remaining -= n;
      this.published += n;
      if (admissions.length >= TURN_BATCHES || turnBytes >= TURN_BYTES) {
        // Admission promises resolve at once unless a worker's queue is full: then this waits for room.
        await Promise.all(admissions);
        admissions.length = 0;
        turnBytes = 0;
        await nextTurn();
      }
    }
    await Promise.all(admissions);
  }

  private inFlight(): number {
    return this.published * this.settings.fanout - this.flow.accounted;
  }

  /** Waits until half the window is free, so each wake-up publishes several batches. */
  private async waitForRoom(): Promise<void> {
    const target = this.published * this.settings.fanout - Math.floor(this.windowDeliveries / 2);
    if (await this.flow.waitUntil('both', target, this.settings.idleMs)) return;
    // Deliveries stopped: publish the rest unbounded, and let the accounting say what went missing.
    this.warnings.push(
      `publish window disabled: no delivery for ${this.settings.idleMs} ms with ${this.inFlight()} in flight`,
    );
    this.windowDeliveries = 0;
  }
}
