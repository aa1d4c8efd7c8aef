/**
 * What keeps one attached tap bounded: a rate cap (records per second, a token bucket whose burst
 * is one second's worth), sampling (keep a fraction of the matching calls), and a bounded queue
 * of lines waiting for a slow reader. Each says no instead of growing; the tap counts the noes.
 */

export class RateCap {
  private tokens: number;
  private last: number;

  constructor(
    readonly perSecond: number,
    now: number = Date.now(),
  ) {
    if (!(perSecond > 0)) throw new RangeError(`a rate cap must be above 0 records/s, got ${perSecond}`);
    this.tokens = perSecond;
    this.last = now;
  }

  /** Whether one more record may pass now. */
  take(now: number = Date.now()): boolean {
    if (now > this.last) {
      this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) / 1000) * this.perSecond);
      this.last = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Keeps about `fraction` of what it is asked about; 1 keeps everything. */
export class Sampler {
  constructor(
    readonly fraction: number,
    private readonly random: () => number = Math.random,
  ) {
    if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`a sample must be in (0, 1], got ${fraction}`);
  }

  keep(): boolean {
    return this.fraction >= 1 || this.random() < this.fraction;
  }
}

/** A FIFO that refuses items past its capacity (the caller counts the refusal as a drop). */
export class BoundedQueue<T> {
  private items: T[] = [];
  private head = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError(`a queue needs room for at least 1 item, got ${capacity}`);
  }

  get length(): number {
    return this.items.length - this.head;
  }

  /** False, and nothing kept, when the queue is full. */
  push(item: T): boolean {
    if (this.length >= this.capacity) return false;
    this.items.push(item);
    return true;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    // compact now and then, so a long-lived queue does not keep what it handed out
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}
