/**
 * Where a case's events go. As in Felix, the publisher sends `batch`-sized batches (the last one may be
 * smaller) and rotates them over the case's streams, starting again at stream 0 for the measured phase.
 * Knowing each stream's share of each phase lets subscribers tell warmup deliveries from measured ones and
 * attribute a gap in offsets to the right phase.
 */

/** One stream of a case and how many events each phase publishes to it. */
export interface StreamPlan {
  readonly name: string;
  /** Offsets [0, warmup) on this fresh stream are warmup events. */
  readonly warmup: number;
  /** Offsets [warmup, warmup + measured) are measured events. */
  readonly measured: number;
}

/**
 * Felix's stream names (`latency`, or `latency-<i>` for several streams), with `tag` inserted when the
 * broker is shared (`--broker`) so that every case starts on a fresh stream whose offsets begin at 0.
 */
export function streamName(index: number, count: number, tag: string | undefined): string {
  const base = tag === undefined ? 'latency' : `latency-${tag}`;
  return count <= 1 ? base : `${base}-${index % count}`;
}

/** Events each of `streams` streams receives when `total` events go out in rotating batches of `batch`. */
export function eventsPerStream(total: number, batch: number, streams: number): number[] {
  const fullBatches = Math.floor(total / batch);
  const rest = total % batch;
  const counts: number[] = [];
  for (let s = 0; s < streams; s++) {
    const batchesHere = Math.floor(fullBatches / streams) + (s < fullBatches % streams ? 1 : 0);
    counts.push(batchesHere * batch + (rest > 0 && fullBatches % streams === s ? rest : 0));
  }
  return counts;
}

export function planStreams(
  warmup: number,
  total: number,
  batch: number,
  streams: number,
  tag: string | undefined,
): StreamPlan[] {
  const warmups = eventsPerStream(warmup, batch, streams);
  const measured = eventsPerStream(total, batch, streams);
  return warmups.map((w, i) => ({ name: streamName(i, streams, tag), warmup: w, measured: measured[i]! }));
}
