/**
 * A per-shard circuit breaker. After a failure the shard is skipped for `cooldownMs` (calls fail
 * at once instead of each waiting for a command timeout); then one probe call is let through:
 * success closes the breaker, failure opens it for another cooldown. While the probe is in flight
 * other calls still fail fast, so a dead shard costs at most one timeout per cooldown.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  cooldownMs: number;
  now?: () => number;
  /** Called on every state change (for logs and metrics). */
  onChange?: (from: BreakerState, to: BreakerState) => void;
}

export class CircuitBreaker {
  private st: BreakerState = 'closed';
  private openUntil = 0;
  private probeSince = 0;
  private readonly now: () => number;
  /** Calls rejected without trying, since start (a counter for metrics). */
  rejected = 0;

  constructor(private readonly opts: BreakerOptions) {
    this.now = opts.now ?? Date.now;
  }

  get state(): BreakerState {
    return this.st;
  }

  /** Ms until the next probe is allowed (0 when closed). */
  retryInMs(): number {
    return this.st === 'closed' ? 0 : Math.max(0, this.openUntil - this.now());
  }

  /** True when a call may go to the server now. */
  allow(): boolean {
    if (this.st === 'closed') return true;
    const now = this.now();
    // A probe that never reported back (should not happen: commands time out) must not wedge the breaker.
    const probeStale = this.st === 'half-open' && now - this.probeSince > this.opts.cooldownMs;
    if ((this.st === 'open' && now >= this.openUntil) || probeStale) {
      this.move('half-open');
      this.probeSince = now;
      return true;
    }
    this.rejected++;
    return false;
  }

  success(): void {
    if (this.st !== 'closed') this.move('closed');
  }

  failure(): void {
    this.openUntil = this.now() + this.opts.cooldownMs;
    if (this.st !== 'open') this.move('open');
  }

  private move(to: BreakerState): void {
    const from = this.st;
    this.st = to;
    this.opts.onChange?.(from, to);
  }
}
