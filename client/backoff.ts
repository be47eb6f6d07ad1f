/**
 * Jittered exponential backoff for reconnect attempts: attempt n waits between half and all of
 * min(maxMs, initialMs × 2^(n−1)), so clients that lost the same broker spread their returns instead of
 * arriving in step, and none waits less than half the nominal time.
 */
export interface ReconnectPolicy {
  /** FELIX_RECONNECT_INITIAL_MS. */
  readonly initialMs: number;
  /** FELIX_RECONNECT_MAX_MS. */
  readonly maxMs: number;
  /** FELIX_RECONNECT_ATTEMPTS: -1 unlimited, 0 none. */
  readonly attempts: number;
}

/** The wait before attempt `attempt` (from 1). `random` is in [0, 1), Math.random by default. */
export function reconnectDelay(
  policy: ReconnectPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  // 2^30 × 1 ms is already beyond any maxMs; capping the exponent keeps the product finite.
  const nominal = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(nominal / 2 + (random() * nominal) / 2);
}

/** Whether attempt `attempt` (from 1) is still allowed. */
export function attemptAllowed(policy: ReconnectPolicy, attempt: number): boolean {
  return policy.attempts < 0 || attempt <= policy.attempts;
}
