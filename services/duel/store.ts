/** SQL for finished duels. */
import type { Queryable } from '../../shared/data/sql';
import type { Game } from './rules';

export interface DuelRow {
  id: string;
  winner: string;
  loser: string;
  reason: string;
  endedAtMs: number;
}

/** Records a finished duel; a repeat for the same id (a retried settlement) changes nothing. */
export async function saveResult(q: Queryable, g: Game, endedAtMs: number): Promise<void> {
  await q.query(
    `INSERT INTO duels (id, players, winner, loser, reason, stake, ended_at)
     VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''), $5, $6, to_timestamp($7::double precision / 1000))
     ON CONFLICT (id) DO NOTHING`,
    [g.id, [...g.players], g.winner, g.loser, g.reason, g.stake, endedAtMs],
  );
}

/** The user's finished duels, newest first. */
export async function historyOf(q: Queryable, userId: string, limit: number): Promise<DuelRow[]> {
  const r = await q.query<{
    id: string;
    winner: string | null;
    loser: string | null;
    reason: string;
    ended_ms: string;
  }>(
    `SELECT id, winner, loser, reason, (extract(epoch FROM ended_at) * 1000)::bigint AS ended_ms
     FROM duels WHERE players @> ARRAY[$1]::text[] ORDER BY ended_at DESC, id LIMIT $2`,
    [userId, limit],
  );
  return r.rows.map((x) => ({
    id: x.id,
    winner: x.winner ?? '',
    loser: x.loser ?? '',
    reason: x.reason,
    endedAtMs: Number(x.ended_ms),
  }));
}
