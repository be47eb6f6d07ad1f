import { CheckFailure } from './failure.js';

/**
 * Wakes whoever waits for a condition on something that changes in callbacks (frames arriving, a reset,
 * a connection closing). Every wait has a deadline, so a broker that never answers yields a failed
 * check, never a hung run.
 */
export class Signal {
  private waiters: (() => void)[] = [];

  notify(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const wake of waiting) wake();
  }

  /**
   * Resolves once `ready()` holds; fails with "no <what> within N ms" at the deadline. `abort()` is asked
   * on every wake-up: a reason it returns (the connection closed, say) fails the wait at once.
   */
  async until(
    ready: () => boolean,
    what: string,
    timeoutMs: number,
    abort: () => string | null = () => null,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (ready()) return;
      const aborted = abort();
      if (aborted !== null) throw new CheckFailure(`${aborted} while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new CheckFailure(`no ${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
