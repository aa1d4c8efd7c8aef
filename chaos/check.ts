/** What Postgres shows after the run: the workload's writes that landed, the rooms' messages, and the money invariant. */
import pg from 'pg';
import { moneyCheck, moneyFailed, type MoneyCheck } from '../loadtest/money';
import type { StoredMessage } from './games-tally';

/** Every write of this run that Postgres holds, as `user|key` (writeId). */
export async function appliedWrites(pgUrl: string, prefix: string): Promise<Set<string>> {
  const c = new pg.Client({ connectionString: pgUrl, statement_timeout: 30_000 });
  await c.connect();
  try {
    const r = await c.query<{ id: string }>(
      `SELECT user_id || '|' || key AS id FROM player_idempotency WHERE key LIKE $1`,
      [`c:${prefix}%`],
    );
    return new Set(r.rows.map((row) => row.id));
  } finally {
    await c.end();
  }
}

/** The money check, and how many violations it found (an error to run it counts as one). */
export async function moneyViolations(pgUrl: string): Promise<{ violations: number; check: MoneyCheck }> {
  const check = await moneyCheck(pgUrl, { timeoutMs: 20_000 });
  if (!moneyFailed(check)) return { violations: 0, check };
  const n = check.mismatched + check.negative + check.unsourcedCredits + check.duelsUnbalanced;
  return { violations: Math.max(1, n), check };
}

/** Every message Postgres holds in rooms whose id starts with `prefix` (the run's rooms). */
export async function storedMessages(pgUrl: string, prefix: string): Promise<StoredMessage[]> {
  const c = new pg.Client({ connectionString: pgUrl, statement_timeout: 30_000 });
  await c.connect();
  try {
    const r = await c.query<{ room_id: string; seq: string; text: string }>(
      'SELECT room_id, seq::text, text FROM chat_messages WHERE room_id LIKE $1 ORDER BY room_id, seq',
      [`${prefix}%`],
    );
    return r.rows.map((row) => ({ room: row.room_id, seq: Number(row.seq), text: row.text }));
  } finally {
    await c.end();
  }
}
