/** What Postgres shows after the run: the workload's writes that landed, and the money invariant. */
import pg from 'pg';
import { moneyCheck, moneyFailed, type MoneyCheck } from '../loadtest/money';

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
