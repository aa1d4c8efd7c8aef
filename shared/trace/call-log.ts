/**
 * Info lines for calls that failed or were slow, each with its trace id, so an operator can go
 * from a client's error message or a slow request to every log line (and span) of that call.
 * Bounded: at most `perInterval` lines per cause (what happened to which method) per interval;
 * the rest are counted, and one summary line per cause reports them.
 */
import type { Logger } from '../log';
import { LogLimiter } from '../log-limit';

export interface CallLine {
  trace: string;
  /** Service:method */
  method: string;
  /** `ok` or an error code */
  outcome: string;
  ms: number;
  /** further fields of the line (user id, instance, connection) */
  [field: string]: string | number;
}

export interface CallLogOptions {
  /** a call taking this long or longer is slow; 0 = none is */
  slowMs: number;
  intervalMs?: number;
  perInterval?: number;
}

export class CallLog {
  private readonly limit: LogLimiter;
  private readonly timer: NodeJS.Timeout;
  readonly slowMs: number;

  constructor(
    private readonly logger: Logger,
    opts: CallLogOptions,
  ) {
    this.slowMs = opts.slowMs;
    this.limit = new LogLimiter({ intervalMs: opts.intervalMs ?? 1000, perInterval: opts.perInterval ?? 20 });
    this.timer = setInterval(() => this.summarize(), this.limit.intervalMs);
    this.timer.unref();
  }

  isSlow(ms: number): boolean {
    return this.slowMs > 0 && ms >= this.slowMs;
  }

  /** Logs a finished call when it failed (`call failed`) or was slow (`slow call`). */
  after(line: CallLine): void {
    if (line.outcome !== 'ok') this.failed(line);
    else if (this.isSlow(line.ms)) this.slow(line);
  }

  failed(line: CallLine): void {
    this.write('call failed', line);
  }

  slow(line: CallLine): void {
    this.write('slow call', line);
  }

  private write(msg: string, line: CallLine): void {
    if (!this.limit.admit(`${msg} ${line.method} ${line.outcome}`, Date.now())) return;
    this.logger.info({ ...line, ms: Math.round(line.ms * 10) / 10 }, msg);
  }

  private summarize(): void {
    for (const { cause, suppressed } of this.limit.drain(Date.now()))
      this.logger.info(
        { cause, suppressed, intervalMs: this.limit.intervalMs },
        'call lines not logged (limit per cause per interval)',
      );
  }

  close(): void {
    clearInterval(this.timer);
    this.summarize();
  }
}
