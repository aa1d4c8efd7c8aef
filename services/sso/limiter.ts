/**
 * A bounded concurrency limiter for CPU/memory-heavy work (scrypt): at most `concurrency` jobs
 * run; at most `maxQueued` wait; past that the caller gets a retryable BUSY at once instead of an
 * ever-growing queue (docs/limits.md).
 */
import { ErrorCode, GameError } from '../../shared/protocol';

export class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly maxQueued: number,
  ) {}

  get active(): number {
    return this.running;
  }

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxQueued) {
        throw new GameError({
          code: ErrorCode.BUSY,
          message: 'too many logins in progress; retry shortly',
          retryable: true,
        });
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await job();
    } finally {
      // Hand the slot straight to the next waiter (running stays the same), or free it.
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.running--;
    }
  }
}
