/**
 * The matchmaking queue in Postgres (`duel_queue`, migration 004): one row per waiting or pairing
 * player, so a matchmaker that dies or drains loses nobody; whichever instance is the matchmaker
 * next pairs them. The rules (order, max wait, what a pairing does) are matchmaker.ts's; this
 * module only reads and writes rows. A pairing takes a transaction-scoped advisory lock on its
 * stake: two matchmakers briefly disagreeing about who they are cannot both queue two players of
 * one stake without pairing them, nor take one opponent twice.
 */
import type { Db, Queryable } from '../../shared/data/sql';
import { abandoned, pair, type Waiting } from './matchmaker';

/** First key of the advisory locks of the queue (the second is the stake). */
const QUEUE_LOCK = 0x6475_656c; // 'duel'

interface Row {
  user_id: string;
  username: string;
  session_id: string;
  via: string | null;
  stake: unknown;
  since_ms: unknown;
}

const COLS = 'user_id, username, session_id, via, stake, since_ms';

function toWaiting(r: Row): Waiting {
  return {
    userId: r.user_id,
    username: r.username,
    sessionId: r.session_id,
    via: r.via ?? undefined,
    stake: Number(r.stake),
    since: Number(r.since_ms),
  };
}

export interface QueueOptions {
  /** a waiting player older than this is dropped (ms) */
  maxWaitMs: number;
  /** a pairing older than this goes back to waiting (its matchmaker is stuck), ms */
  pairingLeaseMs: number;
}

export class MatchQueue {
  constructor(
    private readonly db: Db,
    private readonly instanceId: string,
    private readonly opts: QueueOptions,
  ) {}

  /**
   * Pairs `w` with the longest-waiting other user at the same stake (taken out of the queue as
   * "pairing" by this instance, and returned), or queues `w` and returns undefined. A user is
   * queued at most once: this replaces the user's earlier entry (another stake or session).
   */
  pairOrQueue(w: Waiting, now: number): Promise<Waiting | undefined> {
    return this.db.tx(async (q) => {
      await q.query('SELECT pg_advisory_xact_lock($1::int, $2::int)', [QUEUE_LOCK, w.stake]);
      await q.query('DELETE FROM duel_queue WHERE user_id = $1', [w.userId]);
      const r = await q.query<Row>(
        `SELECT ${COLS} FROM duel_queue WHERE stake = $1 AND state = 'waiting' ORDER BY since_ms, user_id LIMIT 200`,
        [w.stake],
      );
      const { opponent, stale } = pair(r.rows.map(toWaiting), w, now, this.opts.maxWaitMs);
      if (stale.length > 0)
        await q.query("DELETE FROM duel_queue WHERE user_id = ANY($1) AND state = 'waiting'", [
          stale.map((s) => s.userId),
        ]);
      if (opponent) {
        await q.query("UPDATE duel_queue SET state = 'pairing', claimed_by = $2, claimed_ms = $3 WHERE user_id = $1", [
          opponent.userId,
          this.instanceId,
          now,
        ]);
        return opponent;
      }
      await q.query(
        `INSERT INTO duel_queue (user_id, username, session_id, via, stake, since_ms, state)
         VALUES ($1, $2, $3, $4, $5, $6, 'waiting')`,
        [w.userId, w.username, w.sessionId, w.via ?? null, w.stake, w.since],
      );
      return undefined;
    });
  }

  /** The pairing with `w` went through (a duel exists): it leaves the queue. */
  async matched(w: Waiting): Promise<void> {
    await this.removePairing(w);
  }

  /** The pairing with `w` failed through its fault (it could not pay): it leaves the queue. */
  async drop(w: Waiting): Promise<void> {
    await this.removePairing(w);
  }

  /**
   * The pairing with `w` failed through no fault of `w`: it waits again, at the front (it keeps
   * its place in time). False when it cancelled or queued again meanwhile.
   */
  async putBack(w: Waiting): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE duel_queue SET state = 'waiting', claimed_by = NULL, claimed_ms = NULL
        WHERE user_id = $1 AND session_id = $2 AND state = 'pairing' AND claimed_by = $3`,
      [w.userId, w.sessionId, this.instanceId],
    );
    return r.rowCount > 0;
  }

  /** Removes the session's entry, waiting or pairing (a pairing then cannot put it back); true when there was one. */
  async cancel(sessionId: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM duel_queue WHERE session_id = $1', [sessionId]);
    return r.rowCount > 0;
  }

  /**
   * Upkeep any instance may run: pairings nobody will finish (their matchmaker left `live`, or
   * outlived the lease) wait again, and entries past the max wait go. Returns the users put back.
   */
  async recover(live: ReadonlySet<string>, now: number): Promise<string[]> {
    await this.db.query("DELETE FROM duel_queue WHERE state = 'waiting' AND since_ms <= $1", [
      now - this.opts.maxWaitMs,
    ]);
    const r = await this.db.query<{ user_id: string; claimed_by: string; claimed_ms: unknown }>(
      "SELECT user_id, claimed_by, claimed_ms FROM duel_queue WHERE state = 'pairing' LIMIT 500",
    );
    const back: string[] = [];
    for (const p of r.rows) {
      if (!abandoned({ claimedBy: p.claimed_by, claimedAt: Number(p.claimed_ms) }, live, now, this.opts.pairingLeaseMs))
        continue;
      const u = await this.db.query(
        `UPDATE duel_queue SET state = 'waiting', claimed_by = NULL, claimed_ms = NULL
          WHERE user_id = $1 AND state = 'pairing' AND claimed_by = $2`,
        [p.user_id, p.claimed_by],
      );
      if (u.rowCount > 0) back.push(p.user_id);
    }
    return back;
  }

  /** How many wait (not pairing). */
  async size(q: Queryable = this.db): Promise<number> {
    const r = await q.query<{ n: unknown }>("SELECT count(*) AS n FROM duel_queue WHERE state = 'waiting'");
    return Number(r.rows[0]?.n ?? 0);
  }

  private async removePairing(w: Waiting): Promise<void> {
    await this.db.query("DELETE FROM duel_queue WHERE user_id = $1 AND session_id = $2 AND state = 'pairing'", [
      w.userId,
      w.sessionId,
    ]);
  }
}
