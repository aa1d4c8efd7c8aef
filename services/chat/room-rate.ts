/**
 * A room's share of its owner (--chat-room-rate): at most `ratePerSec` messages of one room are
 * stored per second, up to `burst` (one second's worth) at once after a quiet spell. A room sent
 * more keeps its queue full and its senders get BUSY, while the owner's other rooms get the CPU,
 * Postgres and Kv time the flooded room would otherwise have taken.
 *
 * A capped room is stored a `grain` (50 ms of its rate) at a time rather than one message per
 * token, so it costs the owner about twenty inserts a second, not one per message. Pure; the
 * clock is passed in.
 */
export class RoomRate {
  /** messages the room may still store at `last` (fractions accrue between takes) */
  private tokens: number;
  private last: number;
  /** the smallest batch a room waits for while over its rate */
  readonly grain: number;

  constructor(
    readonly ratePerSec: number,
    now: number,
    readonly burst: number = ratePerSec,
  ) {
    if (!(ratePerSec > 0) || !(burst >= 1)) throw new RangeError('a room rate needs ratePerSec > 0 and burst >= 1');
    this.tokens = burst;
    this.last = now;
    this.grain = Math.max(1, Math.min(Math.floor(burst), Math.floor(ratePerSec / 20)));
  }

  private refill(now: number): void {
    // A clock that stepped back adds nothing (and takes nothing away).
    if (now <= this.last) return;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSec) / 1000);
    this.last = now;
  }

  /**
   * How many of the `want` waiting messages may be stored at `now` (those are spent); 0 means
   * wait delayMs(). A room under its rate gets all it asks for up to what it has saved; one over
   * it gets nothing until a grain (or all it wants, if less) has accrued.
   */
  take(want: number, now: number): number {
    this.refill(now);
    const whole = Math.floor(this.tokens);
    if (want < 1 || whole < Math.min(want, this.grain)) return 0;
    const n = Math.min(want, whole);
    this.tokens -= n;
    return n;
  }

  /** Milliseconds from `now` until take(want) grants something (at least 1). */
  delayMs(want: number, now: number): number {
    this.refill(now);
    const need = Math.min(Math.max(1, want), this.grain);
    // (less a hair, so that floating-point dust does not add a whole millisecond)
    return Math.max(1, Math.ceil(((need - this.tokens) * 1000) / this.ratePerSec - 1e-6));
  }
}
