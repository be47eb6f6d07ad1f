/**
 * The default publish window: how many unacknowledged batches may be in flight (published, not yet
 * delivered to every subscriber). Measured on the two-core machine (f1 b64 p256, f10 b64 p1024, f1 b64
 * p4096): throughput peaks with about 0.3–1 MiB in flight per subscriber, while latency grows with every
 * byte beyond that, since it is the time to drain the window. So the window holds about 1 MiB of events
 * per subscriber, between 2 batches (some pipelining even for large batches) and 16 (small events gain
 * nothing from more).
 */
import { eventBytes } from './stamp.js';

const BYTES_IN_FLIGHT = 1024 * 1024;
const MIN_BATCHES = 2;
const MAX_BATCHES = 16;

export function defaultPubWindow(batch: number, payload: number): number {
  const batches = Math.floor(BYTES_IN_FLIGHT / (batch * eventBytes(payload)));
  return Math.min(MAX_BATCHES, Math.max(MIN_BATCHES, batches));
}
