/**
 * A paced, acked publish load on one stream and a subscriber to it on the same client, with everything a
 * lossy-network run is judged by: was every acked payload delivered once, intact and in order, and how
 * long did publish → ack, publish → deliver and the quietest stretch between deliveries take. Shared by
 * the impairment test (which asserts on delivery only) and the loss benchmark (which reports the times).
 */
import type { FelixClient } from '../../client/index.js';

export interface PacedLoadOptions {
  readonly stream: string;
  /** Publishes per second, spread evenly (due ones are sent together when a timer fires late). */
  readonly rate: number;
  readonly durationMs: number;
  /** Bytes per payload, at least 8 (the id). Default 128. */
  readonly payloadBytes?: number;
  /** Upper bound on waiting for the deliveries of acked publishes after the last ack. Default 30 s. */
  readonly settleMs?: number;
}

export interface PacedLoadResult {
  readonly published: number;
  readonly acked: number;
  /** Publishes that failed (their error messages, first 10). */
  readonly failed: number;
  readonly failures: readonly string[];
  /** Acked payloads never delivered. */
  readonly lost: number;
  /** Deliveries of an id already delivered. */
  readonly duplicates: number;
  /** Deliveries of an id lower than one delivered before. */
  readonly outOfOrder: number;
  /** Deliveries whose bytes are not what was published. */
  readonly corrupted: number;
  /** Publish → ack, ms, one per acked publish. */
  readonly ackMs: readonly number[];
  /** Publish → delivery to the subscriber, ms, one per first delivery. */
  readonly deliverMs: readonly number[];
  /** The longest time between two consecutive deliveries, ms (publishing never pauses for long). */
  readonly largestGapMs: number;
}

/** The payload of message `id`: its id, then bytes that depend on it, so damage shows. */
export function payloadOf(id: number, bytes: number): Buffer {
  const out = Buffer.allocUnsafe(Math.max(8, bytes));
  out.writeDoubleBE(id, 0);
  for (let i = 8; i < out.length; i++) out[i] = (id + i) & 0xff;
  return out;
}

/** Subscribes to `stream` from its earliest event, publishes at `rate` for `durationMs`, then settles. */
export async function runPacedLoad(client: FelixClient, options: PacedLoadOptions): Promise<PacedLoadResult> {
  const bytes = options.payloadBytes ?? 128;
  const sentAt: number[] = [];
  const acked = new Set<number>();
  const delivered = new Set<number>();
  const ackMs: number[] = [];
  const deliverMs: number[] = [];
  const failures: string[] = [];
  let failed = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let corrupted = 0;
  let highest = -1;
  let lastDelivery = NaN;
  let largestGapMs = 0;

  const sub = await client.subscribe(options.stream, {
    start: 'earliest',
    onEvent: (event) => {
      const now = performance.now();
      const payload = Buffer.from(event.payload);
      const id = payload.length >= 8 ? payload.readDoubleBE(0) : NaN;
      if (!Number.isInteger(id) || id < 0 || id >= sentAt.length || !payload.equals(payloadOf(id, bytes))) {
        corrupted++;
        return;
      }
      if (delivered.has(id)) {
        duplicates++;
        return;
      }
      delivered.add(id);
      if (id < highest) outOfOrder++;
      highest = Math.max(highest, id);
      deliverMs.push(now - sentAt[id]!);
      if (!Number.isNaN(lastDelivery)) largestGapMs = Math.max(largestGapMs, now - lastDelivery);
      lastDelivery = now;
    },
  });

  const started = performance.now();
  const total = Math.round((options.rate * options.durationMs) / 1000);
  const inFlight: Promise<void>[] = [];
  // Bounded: one iteration per timer tick until every due publish was sent.
  while (sentAt.length < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) * options.rate) / 1000) + 1);
    while (sentAt.length < due) {
      const id = sentAt.length;
      const at = performance.now();
      sentAt.push(at);
      inFlight.push(
        client.publish(options.stream, payloadOf(id, bytes)).then(
          () => {
            acked.add(id);
            ackMs.push(performance.now() - at);
          },
          (error: unknown) => {
            failed++;
            if (failures.length < 10) failures.push(error instanceof Error ? error.message : String(error));
          },
        ),
      );
    }
    await sleep(1);
  }
  await Promise.all(inFlight);
  const settleBy = performance.now() + (options.settleMs ?? 30_000);
  const undelivered = (): number => {
    let n = 0;
    for (const id of acked) if (!delivered.has(id)) n++;
    return n;
  };
  while (undelivered() > 0 && performance.now() < settleBy) await sleep(10);
  await sub.close();
  return {
    published: sentAt.length,
    acked: acked.size,
    failed,
    failures,
    lost: undelivered(),
    duplicates,
    outOfOrder,
    corrupted,
    ackMs,
    deliverMs,
    largestGapMs,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
