/** Latencies of one client in milliseconds, kept whole (a run is at most rate × duration events). */
export class Latencies {
  private values = new Float64Array(1024);
  count = 0;

  record(ms: number): void {
    if (this.count === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.count++] = ms;
  }

  /** p50, p95, p99 (NaN when nothing was recorded). */
  percentiles(): { p50: number; p95: number; p99: number } {
    const sorted = this.values.slice(0, this.count).sort();
    const at = (q: number): number =>
      sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
  }
}

/** The payload's first 8 bytes: when it was published (performance.now(), this process's clock). */
export function stampPayload(payload: Buffer): Buffer {
  payload.writeDoubleLE(performance.now(), 0);
  return payload;
}

/** When the payload was published (see stampPayload). */
export function stampOf(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset, 8).getFloat64(0, true);
}

/**
 * Where measuring starts: events published before `from` (the warm-up: JIT, windows and congestion control
 * still growing) are counted but their latency is not recorded.
 */
export class MeasureWindow {
  from = Number.POSITIVE_INFINITY;
}
