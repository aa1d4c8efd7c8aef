/**
 * How long a failed job waits before its next attempt: doubling from `baseMs` with each attempt,
 * capped at `maxMs`, with jitter so jobs that failed together (a database or a service away) do
 * not come back in lockstep.
 */
export interface BackoffPolicy {
  /** the wait after the first failed attempt, ms */
  baseMs: number;
  /** the longest wait, ms */
  maxMs: number;
}

/**
 * The wait after failed attempt number `attempt` (1 = the first), ms: a value in [full/2, full]
 * where full = min(maxMs, baseMs · 2^(attempt−1)). `random` is in [0, 1).
 */
export function retryDelayMs(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be an integer ≥ 1, got ${attempt}`);
  if (!(policy.baseMs > 0) || !(policy.maxMs >= policy.baseMs))
    throw new RangeError(`backoff needs 0 < baseMs ≤ maxMs, got ${policy.baseMs} and ${policy.maxMs}`);
  // 2^30 already exceeds any cap; larger exponents would only overflow to Infinity
  const full = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(full * (0.5 + random() / 2));
}
