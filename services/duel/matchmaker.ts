/**
 * The in-memory matchmaking queue of the matchmaker instance (the rendezvous owner of the key
 * 'matchmaking' among live duel instances). One FIFO per stake. A queue lives only in this
 * process: if the matchmaker dies, waiting players are lost and must call findMatch again
 * (their broker reports the failed call); entries older than `maxWaitMs` are dropped so a player
 * who went away is never matched.
 *
 * A pairing is not final until the stakes are in escrow: the opponent taken from the queue is
 * "pairing" until the caller reports `matched`, `putBack` (the caller could not pay: the opponent
 * returns to the front of its queue, unless it cancelled or queued again meanwhile) or `drop`.
 */

export interface Waiting {
  userId: string;
  username: string;
  sessionId: string;
  /** the player's broker, when known (undefined when the call was forwarded by another instance) */
  via: string | undefined;
  stake: number;
  since: number;
}

export class Matchmaker {
  private readonly queues = new Map<number, Waiting[]>();
  /** opponents taken from a queue whose pairing is not settled yet, by session id */
  private readonly pairing = new Map<string, { w: Waiting; cancelled: boolean }>();

  constructor(private readonly maxWaitMs: number) {}

  /**
   * Pairs `w` with the longest-waiting other user at the same stake (removed from the queue and
   * returned), or queues `w` and returns undefined. A user is queued at most once: a new call
   * replaces the earlier entry (another stake or another session).
   */
  pairOrQueue(w: Waiting, now: number): Waiting | undefined {
    this.removeUser(w.userId);
    const q = this.fresh(w.stake, now);
    const opponent = q.shift();
    if (!opponent) q.push(w);
    if (q.length > 0) this.queues.set(w.stake, q);
    else this.queues.delete(w.stake);
    if (opponent) this.pairing.set(opponent.sessionId, { w: opponent, cancelled: false });
    return opponent;
  }

  /** The pairing with `w` went through (a duel exists). */
  matched(w: Waiting): void {
    this.pairing.delete(w.sessionId);
  }

  /** The pairing with `w` failed: `w` leaves the matchmaker (it could not pay its stake). */
  drop(w: Waiting): void {
    this.pairing.delete(w.sessionId);
  }

  /**
   * The pairing with `w` failed through no fault of `w`: it goes back to the front of its queue,
   * keeping its place in time. False (and not queued) when it cancelled or queued again meanwhile.
   */
  putBack(w: Waiting): boolean {
    const p = this.pairing.get(w.sessionId);
    this.pairing.delete(w.sessionId);
    if (p === undefined || p.cancelled) return false;
    if ([...this.queues.values()].some((q) => q.some((x) => x.userId === w.userId))) return false;
    this.queues.set(w.stake, [w, ...(this.queues.get(w.stake) ?? [])]);
    return true;
  }

  /** Removes the session's entry (or stops a pairing in progress from putting it back); true when there was one. */
  cancel(sessionId: string): boolean {
    const p = this.pairing.get(sessionId);
    if (p !== undefined) p.cancelled = true;
    return this.remove((w) => w.sessionId === sessionId) || p !== undefined;
  }

  get size(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  private removeUser(userId: string): boolean {
    return this.remove((w) => w.userId === userId);
  }

  private remove(match: (w: Waiting) => boolean): boolean {
    let found = false;
    for (const [stake, q] of this.queues) {
      const kept = q.filter((w) => !match(w));
      found ||= kept.length !== q.length;
      if (kept.length === 0) this.queues.delete(stake);
      else this.queues.set(stake, kept);
    }
    return found;
  }

  /** The stake's queue without entries older than maxWaitMs (a copy: the caller stores it). */
  private fresh(stake: number, now: number): Waiting[] {
    return (this.queues.get(stake) ?? []).filter((w) => now - w.since < this.maxWaitMs);
  }
}
