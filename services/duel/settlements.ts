/**
 * SQL of the settlement outbox (`duel_settlements`, migration 002_settlements).
 *
 *   open ──(the duel ends: same transaction as the result row)──► pending ──(every step done)──► done
 *     └──(escrow outcome unknown, or the holding instance is gone)──► pending (refund) ──► done
 *
 * A pending row is worked by whichever duel instance claims it: a claim sets `claimed_by` and
 * pushes `next_at` a lease ahead, so no other instance takes it while the lease runs (unless the
 * claimer has left the cluster); a failed attempt releases it with a backoff. Claims use
 * `FOR UPDATE SKIP LOCKED`, so two instances never claim the same row at once; each step is
 * idempotent by duel id anyway. Times are the database's (`now()`), never a host's clock.
 */
import type { Db, Queryable } from '../../shared/data/sql';
import type { Game } from './rules';
import { saveResult } from './store';
import { duelFinishedJob } from './analytics';
import { DuelFinished } from '../../shared/protocol';

export type EscrowStep = 'payout' | 'refund' | 'none';

export interface Settlement {
  duelId: string;
  players: [string, string];
  usernames: [string, string];
  stake: number;
  state: 'open' | 'pending' | 'done';
  escrow: EscrowStep | null;
  winner: string;
  reason: string;
  escrowDone: boolean;
  reportDone: boolean;
  attempts: number;
  lastError: string;
}

interface Raw {
  duel_id: string;
  players: string[];
  usernames: string[];
  stake: unknown;
  state: Settlement['state'];
  escrow: EscrowStep | null;
  winner: string | null;
  reason: string | null;
  escrow_done: boolean;
  report_done: boolean;
  attempts: unknown;
  last_error: string | null;
}

const COLS =
  'duel_id, players, usernames, stake, state, escrow, winner, reason, escrow_done, report_done, attempts, last_error';

function toSettlement(r: Raw): Settlement {
  return {
    duelId: r.duel_id,
    players: [r.players[0] ?? '', r.players[1] ?? ''],
    usernames: [r.usernames[0] ?? '', r.usernames[1] ?? ''],
    stake: Number(r.stake),
    state: r.state,
    escrow: r.escrow,
    winner: r.winner ?? '',
    reason: r.reason ?? '',
    escrowDone: r.escrow_done,
    reportDone: r.report_done,
    attempts: Number(r.attempts),
    lastError: r.last_error ?? '',
  };
}

export interface OpenDuel {
  duelId: string;
  players: readonly [string, string];
  usernames: readonly [string, string];
  stake: number;
  instanceId: string;
}

/** Written before the stakes are taken: from here on, a lost duel is found and refunded. */
export async function openSettlement(q: Queryable, d: OpenDuel): Promise<void> {
  await q.query(
    `INSERT INTO duel_settlements (duel_id, players, usernames, stake, instance_id, state)
     VALUES ($1, $2, $3, $4, $5, 'open')`,
    [d.duelId, [...d.players], [...d.usernames], d.stake, d.instanceId],
  );
}

/** The escrow was refused (nothing was taken): the match never happened. */
export async function dropOpen(q: Queryable, duelId: string): Promise<void> {
  await q.query("DELETE FROM duel_settlements WHERE duel_id = $1 AND state = 'open'", [duelId]);
}

/** The duel will never have a result: refund whatever was taken. True when the row was open. */
export async function voidOpen(q: Queryable, duelId: string, reason: string): Promise<boolean> {
  const r = await q.query(
    `UPDATE duel_settlements SET state = 'pending', escrow = 'refund', reason = $2, report_done = true,
       finished_at = now(), next_at = now()
     WHERE duel_id = $1 AND state = 'open' RETURNING duel_id`,
    [duelId, reason],
  );
  return r.rows.length > 0;
}

/**
 * The finished duel, durably: its result row and its pending settlement in one transaction (a
 * duel with nothing to pay or report — no stake, no winner — is done at once).
 * 'voided' when the row had already been turned into a refund (its instance was taken for gone):
 * then nothing is written and the stakes go back. Repeating it after a lost COMMIT is harmless.
 * `first` runs at the start of the transaction (the live duel's own write, which may throw to
 * roll everything back): the end of a duel, its result and what it owes commit together.
 */
export async function finishDuel(
  db: Db,
  g: Game,
  usernames: readonly [string, string],
  instanceId: string,
  endedAtMs: number,
  first?: (q: Queryable) => Promise<void>,
): Promise<'pending' | 'voided'> {
  const escrow: EscrowStep = g.stake === 0 ? 'none' : g.winner === '' ? 'refund' : 'payout';
  return db.tx(async (q) => {
    if (first) await first(q);
    const r = await q.query(
      `INSERT INTO duel_settlements (duel_id, players, usernames, stake, instance_id, state, escrow, winner, reason,
         escrow_done, report_done, finished_at)
       VALUES ($1, $2, $3, $4, $5, CASE WHEN $6::text = 'none' AND $7::text = '' THEN 'done' ELSE 'pending' END,
         $6::text, NULLIF($7::text, ''), $8, $6::text = 'none', $7::text = '', now())
       ON CONFLICT (duel_id) DO UPDATE SET state = EXCLUDED.state, escrow = EXCLUDED.escrow, winner = EXCLUDED.winner,
         reason = EXCLUDED.reason, escrow_done = EXCLUDED.escrow_done, report_done = EXCLUDED.report_done,
         finished_at = now(), next_at = now()
       WHERE duel_settlements.state = 'open'
       RETURNING duel_id`,
      [g.id, [...g.players], [...usernames], g.stake, instanceId, escrow, g.winner, g.reason],
    );
    if (r.rows.length === 0) {
      const prior = await q.query<{ escrow: string | null; winner: string | null }>(
        'SELECT escrow, winner FROM duel_settlements WHERE duel_id = $1',
        [g.id],
      );
      const p = prior.rows[0];
      // Our own earlier attempt (its COMMIT's reply was lost) wrote exactly this.
      const ours = p !== undefined && p.escrow === escrow && (p.winner ?? '') === g.winner;
      if (!ours) return 'voided';
    }
    await saveResult(q, g, endedAtMs);
    await duelFinishedJob.enqueue(
      q,
      new DuelFinished({
        duelId: g.id,
        players: [...g.players],
        winner: g.winner,
        reason: g.reason,
        stake: g.stake,
        endedAtMs,
      }),
    );
    return 'pending';
  });
}

const CLAIM = (where: string): string => `
UPDATE duel_settlements SET claimed_by = $1, next_at = now() + $2::double precision * interval '1 millisecond', attempts = attempts + 1
 WHERE duel_id IN (
   SELECT duel_id FROM duel_settlements
    WHERE state = 'pending' AND ${where}
    ORDER BY next_at LIMIT $4 FOR UPDATE SKIP LOCKED)
RETURNING ${COLS}`;

/**
 * Claims up to `limit` due rows for `me` for `leaseMs`: those whose time has come, and those
 * claimed by an instance that is no longer live (it died mid-attempt).
 */
export async function claimDue(
  q: Queryable,
  me: string,
  leaseMs: number,
  live: readonly string[],
  limit: number,
): Promise<Settlement[]> {
  const r = await q.query<Raw>(
    CLAIM('(next_at <= now() OR (claimed_by IS NOT NULL AND NOT (claimed_by = ANY($3::text[]))))'),
    [me, leaseMs, [...live], limit],
  );
  return r.rows.map(toSettlement);
}

/** Claims one row, if it is pending and nobody else holds it. */
export async function claimOne(q: Queryable, me: string, leaseMs: number, duelId: string): Promise<Settlement[]> {
  const r = await q.query<Raw>(CLAIM('duel_id = $3 AND (next_at <= now() OR claimed_by IS NULL)'), [
    me,
    leaseMs,
    duelId,
    1,
  ]);
  return r.rows.map(toSettlement);
}

/**
 * Records an attempt: the steps it completed (steps only ever go from not done to done), and
 * either 'done' or the release of the claim with the next try `retryMs` from now.
 */
export async function recordAttempt(
  q: Queryable,
  duelId: string,
  steps: { escrowDone: boolean; reportDone: boolean },
  error: string,
  retryMs: number,
): Promise<void> {
  await q.query(
    `UPDATE duel_settlements SET
       escrow_done = escrow_done OR $2::boolean, report_done = report_done OR $3::boolean,
       state = CASE WHEN (escrow_done OR $2) AND (report_done OR $3) THEN 'done' ELSE 'pending' END,
       done_at = CASE WHEN (escrow_done OR $2) AND (report_done OR $3) THEN now() END,
       next_at = now() + $5::double precision * interval '1 millisecond', claimed_by = NULL, last_error = NULLIF($4::text, '')
     WHERE duel_id = $1 AND state = 'pending'`,
    [duelId, steps.escrowDone, steps.reportDone, error, retryMs],
  );
}

/**
 * Open rows older than `olderThanMs`, with the instance that made each, whose duel never started:
 * a started duel is durable (duel_games) and ends on whichever instance takes it over.
 */
export async function staleOpen(
  q: Queryable,
  olderThanMs: number,
): Promise<Array<{ duelId: string; instanceId: string }>> {
  const r = await q.query<{ duel_id: string; instance_id: string }>(
    `SELECT duel_id, instance_id FROM duel_settlements
      WHERE state = 'open' AND created_at < now() - $1::double precision * interval '1 millisecond'
        AND NOT EXISTS (SELECT 1 FROM duel_games g WHERE g.id = duel_settlements.duel_id)
      ORDER BY created_at LIMIT 100`,
    [olderThanMs],
  );
  return r.rows.map((x) => ({ duelId: x.duel_id, instanceId: x.instance_id }));
}

export async function readSettlement(q: Queryable, duelId: string): Promise<Settlement | undefined> {
  const r = await q.query<Raw>(`SELECT ${COLS} FROM duel_settlements WHERE duel_id = $1`, [duelId]);
  const row = r.rows[0];
  return row === undefined ? undefined : toSettlement(row);
}
