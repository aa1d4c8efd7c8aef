/**
 * SQL for the leaderboard: the truth behind the Kv sorted sets, and the fallback ordering when a
 * Kv shard is down. Order everywhere = score DESC, user_id DESC (bytewise, as Redis orders ties).
 */
import type { Db, Queryable } from '../../shared/data/sql';

export interface ScoreRow {
  userId: string;
  username: string;
  score: number;
}

interface RawRow {
  user_id: string;
  username: string;
  score: string;
}

const ORDER = `ORDER BY score DESC, user_id COLLATE "C" DESC`;

function toRow(r: RawRow): ScoreRow {
  return { userId: r.user_id, username: r.username, score: Number(r.score) };
}

export interface Applied {
  row: ScoreRow;
  /** false when the idempotency key had been applied before: nothing changed now */
  fresh: boolean;
}

/** Adds delta once per idempotency key; the key row and the score change share one transaction. */
export function applyReport(
  db: Db,
  board: string,
  userId: string,
  username: string,
  delta: number,
  key: string,
): Promise<Applied> {
  return db.tx(async (q) => {
    const ins = await q.query(
      'INSERT INTO score_reports (idempotency_key, board, user_id, delta) VALUES ($1, $2, $3, $4) ON CONFLICT (idempotency_key) DO NOTHING',
      [key, board, userId, delta],
    );
    if (ins.rowCount === 0) {
      const prior = await scoreOf(q, board, userId);
      return { row: prior ?? { userId, username, score: 0 }, fresh: false };
    }
    const up = await q.query<RawRow>(
      `INSERT INTO scores (board, user_id, username, score) VALUES ($1, $2, $3, $4)
       ON CONFLICT (board, user_id) DO UPDATE SET score = scores.score + EXCLUDED.score,
         username = CASE WHEN EXCLUDED.username = '' THEN scores.username ELSE EXCLUDED.username END, updated_at = now()
       RETURNING user_id, username, score`,
      [board, userId, username, delta],
    );
    return { row: toRow(up.rows[0] as RawRow), fresh: true };
  });
}

export async function scoreOf(q: Queryable, board: string, userId: string): Promise<ScoreRow | undefined> {
  const r = await q.query<RawRow>('SELECT user_id, username, score FROM scores WHERE board = $1 AND user_id = $2', [
    board,
    userId,
  ]);
  const row = r.rows[0];
  return row ? toRow(row) : undefined;
}

/** Rows at 0-based positions [offset, offset + count) in rank order. */
export async function slice(q: Queryable, board: string, offset: number, count: number): Promise<ScoreRow[]> {
  const r = await q.query<RawRow>(
    `SELECT user_id, username, score FROM scores WHERE board = $1 ${ORDER} OFFSET $2 LIMIT $3`,
    [board, offset, count],
  );
  return r.rows.map(toRow);
}

/** 0-based position of a user, or undefined when the user has no score on the board. */
export async function positionOf(
  q: Queryable,
  board: string,
  userId: string,
): Promise<{ pos: number; row: ScoreRow } | undefined> {
  const row = await scoreOf(q, board, userId);
  if (!row) return undefined;
  const r = await q.query<{ n: string }>(
    `SELECT count(*) AS n FROM scores WHERE board = $1 AND (score > $2 OR (score = $2 AND user_id COLLATE "C" > $3 COLLATE "C"))`,
    [board, row.score, userId],
  );
  return { pos: Number(r.rows[0]?.n ?? 0), row };
}

export async function countRows(q: Queryable, board: string): Promise<number> {
  const r = await q.query<{ n: string }>('SELECT count(*) AS n FROM scores WHERE board = $1', [board]);
  return Number(r.rows[0]?.n ?? 0);
}

/** Every row of a board, for rebuilding its Kv sorted set. */
export async function allRows(q: Queryable, board: string): Promise<ScoreRow[]> {
  const r = await q.query<RawRow>('SELECT user_id, username, score FROM scores WHERE board = $1', [board]);
  return r.rows.map(toRow);
}

export async function namesOf(q: Queryable, board: string, userIds: readonly string[]): Promise<Map<string, string>> {
  const r = await q.query<{ user_id: string; username: string }>(
    'SELECT user_id, username FROM scores WHERE board = $1 AND user_id = ANY($2)',
    [board, userIds],
  );
  return new Map(r.rows.map((x) => [x.user_id, x.username]));
}
