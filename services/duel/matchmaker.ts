/**
 * The matchmaking queue's rules, pure (no clock, no I/O: `now` is passed in). The queue itself is
 * durable (queue.ts keeps it in Postgres) so that no waiting player is lost with a matchmaker
 * instance; these functions decide what a pairing does to it.
 *
 * One FIFO per stake, oldest first; a user waits at most once (a new findMatch replaces the
 * earlier entry); an entry older than `maxWaitMs` is dropped, never matched, so a player who went
 * away is not paired. A pairing is not final until the stakes are in escrow: the opponent taken
 * from the queue is "pairing" until the matchmaker reports `matched`, `putBack` (the caller could
 * not pay: the opponent returns to the front of its queue, keeping its place in time) or `drop`.
 * A pairing whose matchmaker is gone, or that has lasted longer than a lease, goes back to waiting.
 */

export interface Waiting {
  userId: string;
  username: string;
  sessionId: string;
  /** the player's broker, when known (undefined when the call was forwarded by another instance) */
  via: string | undefined;
  stake: number;
  /** when it queued, ms since the epoch: its place in the queue */
  since: number;
}

/** Queue order: oldest first; the user id breaks ties so every instance sees one order. */
export function queueOrder(a: Waiting, b: Waiting): number {
  if (a.since !== b.since) return a.since - b.since;
  return a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0;
}

export function isFresh(w: Waiting, now: number, maxWaitMs: number): boolean {
  return now - w.since < maxWaitMs;
}

export interface Pairing {
  /** the longest-waiting fresh entry of another user at the stake; undefined: `w` queues */
  opponent: Waiting | undefined;
  /** entries too old to be matched: to be removed */
  stale: Waiting[];
}

/**
 * What `w` arriving does to the queue of its stake (`queue`, any order, `w`'s own earlier entry
 * already removed): it pairs with the longest-waiting fresh other user, or it waits.
 */
export function pair(queue: readonly Waiting[], w: Waiting, now: number, maxWaitMs: number): Pairing {
  const stale: Waiting[] = [];
  let opponent: Waiting | undefined;
  for (const e of [...queue].sort(queueOrder)) {
    if (e.stake !== w.stake || e.userId === w.userId) continue;
    if (!isFresh(e, now, maxWaitMs)) stale.push(e);
    else opponent ??= e;
  }
  return { opponent, stale };
}

export interface PairingClaim {
  claimedBy: string;
  /** when the matchmaker took it, ms since the epoch */
  claimedAt: number;
}

/** A pairing nobody will finish: its matchmaker left the cluster, or it outlived its lease. */
export function abandoned(p: PairingClaim, live: ReadonlySet<string>, now: number, leaseMs: number): boolean {
  return !live.has(p.claimedBy) || now - p.claimedAt >= leaseMs;
}
