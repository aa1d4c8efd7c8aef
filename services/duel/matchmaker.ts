/**
 * The in-memory matchmaking queue of the matchmaker instance (the rendezvous owner of the key
 * 'matchmaking' among live duel instances). One FIFO per stake. A queue lives only in this
 * process: if the matchmaker dies, waiting players are lost and must call findMatch again
 * (their broker reports the failed call); entries older than `maxWaitMs` are dropped so a player
 * who went away is never matched.
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
    return opponent;
  }

  /** Removes the session's entry; true when there was one. */
  cancel(sessionId: string): boolean {
    return this.remove((w) => w.sessionId === sessionId);
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
