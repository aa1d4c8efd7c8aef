/**
 * Rate limit for log lines per cause: the first `perInterval` occurrences of a cause in each
 * interval are logged in full; the rest are only counted, and `drain()` hands out the counts (one
 * summary line per cause and interval). Pure, the clock is passed in.
 *
 * Bounded: at most `maxCauses` causes are tracked; occurrences of any further cause share one
 * entry, `OTHER_CAUSES`, limited like a cause of its own. So a flood of distinct errors (each
 * message naming a different id, say) still logs at most `(maxCauses + 1) × perInterval` full
 * lines per interval.
 */
export const OTHER_CAUSES = '(other causes)';

export interface LogLimitOptions {
  intervalMs: number;
  /** full lines per cause per interval (default 1) */
  perInterval?: number;
  /** causes tracked at once (default 100) */
  maxCauses?: number;
}

interface Entry {
  windowStart: number;
  logged: number;
  suppressed: number;
}

export class LogLimiter {
  private readonly entries = new Map<string, Entry>();
  private readonly perInterval: number;
  private readonly maxCauses: number;

  constructor(private readonly opts: LogLimitOptions) {
    this.perInterval = opts.perInterval ?? 1;
    this.maxCauses = opts.maxCauses ?? 100;
  }

  get intervalMs(): number {
    return this.opts.intervalMs;
  }

  /** How many causes are tracked now (the overflow entry included). */
  get size(): number {
    return this.entries.size;
  }

  /** True when this occurrence of `cause` should be logged in full; false: it was counted. */
  admit(cause: string, now: number): boolean {
    let key = cause;
    let e = this.entries.get(key);
    if (e === undefined) {
      if (this.entries.size >= this.maxCauses) {
        key = OTHER_CAUSES;
        e = this.entries.get(key);
      }
      if (e === undefined) {
        e = { windowStart: now, logged: 0, suppressed: 0 };
        this.entries.set(key, e);
      }
    }
    if (now - e.windowStart >= this.opts.intervalMs) {
      e.windowStart = now;
      e.logged = 0;
    }
    if (e.logged < this.perInterval) {
      e.logged++;
      return true;
    }
    e.suppressed++;
    return false;
  }

  /**
   * The counts of occurrences not logged since the last drain, per cause (call it once per
   * interval); forgets causes quiet for a whole interval.
   */
  drain(now: number): { cause: string; suppressed: number }[] {
    const out: { cause: string; suppressed: number }[] = [];
    for (const [cause, e] of this.entries) {
      if (e.suppressed > 0) {
        out.push({ cause, suppressed: e.suppressed });
        e.suppressed = 0;
      } else if (now - e.windowStart >= this.opts.intervalMs) {
        this.entries.delete(cause);
      }
    }
    return out;
  }
}

/**
 * A cause for an unexpected error: where it happened and what it says, with digit runs folded
 * (ids and counts in messages would make every occurrence a cause of its own), cut to 200 chars.
 */
export function errorCause(where: string, err: unknown): string {
  const what =
    err instanceof Error
      ? `${err.name}: ${err.message}`
      : typeof err === 'string'
        ? err
        : Object.prototype.toString.call(err);
  return `${where}: ${what.replace(/\d+/g, '#')}`.slice(0, 200);
}
