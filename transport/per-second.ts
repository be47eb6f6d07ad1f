import { performance } from 'node:perf_hooks';

/**
 * At most `limit` events in each one-second window: the budget for answers an unauthenticated datagram can
 * ask for (Version Negotiation, Stateless Reset), so a flood of them cannot turn the endpoint into a sender.
 */
export class PerSecondBudget {
  private windowStart = -Infinity;
  private used = 0;

  constructor(private readonly limit: number) {}

  /** Spends one; false when this second's budget is gone. */
  take(): boolean {
    const now = performance.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.used = 0;
    }
    return this.used++ < this.limit;
  }
}

/**
 * A rate of events per second, estimated over a sliding second (the previous window's count, weighted by
 * how much of it still overlaps the last second, plus the current one's) — the estimate nginx and Envoy use
 * for rate limits: no per-event timestamps, and it follows a change within a second.
 */
export class RateEstimate {
  private windowStart = performance.now();
  private current = 0;
  private previous = 0;

  /** Counts one event and returns the rate including it. */
  note(): number {
    this.roll();
    this.current++;
    return this.rate();
  }

  /** The events per second of the last second. */
  rate(): number {
    this.roll();
    const into = (performance.now() - this.windowStart) / 1000;
    return this.previous * (1 - into) + this.current;
  }

  private roll(): void {
    const now = performance.now();
    const elapsed = now - this.windowStart;
    if (elapsed < 1000) return;
    this.previous = elapsed < 2000 ? this.current : 0;
    this.current = 0;
    this.windowStart = elapsed < 2000 ? this.windowStart + 1000 : now;
  }
}
