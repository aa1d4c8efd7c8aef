/**
 * The money invariant after a run, read straight from the player service's tables
 * (services/player/migrations.ts): every player's balance equals the sum of its ledger rows, per
 * currency, and no balance is negative. Read-only, one connection, one statement with a deadline.
 */
import { Client } from 'pg';

export interface MoneyCheck {
  players: number;
  ledgerRows: number;
  /** players whose soft or hard balance differs from its ledger sum */
  mismatched: number;
  negative: number;
  /** up to 10 offending rows, as text */
  violations: string[];
  error: string | null;
}

interface Row {
  user_id: string;
  soft: string;
  hard: string;
  soft_sum: string;
  hard_sum: string;
  rows: string;
}

const SQL = `
SELECT p.user_id, p.soft::text, p.hard::text,
       COALESCE(SUM(l.delta) FILTER (WHERE l.currency = 'soft'), 0)::text AS soft_sum,
       COALESCE(SUM(l.delta) FILTER (WHERE l.currency = 'hard'), 0)::text AS hard_sum,
       COUNT(l.id)::text AS rows
FROM players p LEFT JOIN player_ledger l ON l.user_id = p.user_id
GROUP BY p.user_id, p.soft, p.hard`;

/** Pure: the verdict for rows of (balance, ledger sum) per player. */
export function checkRows(rows: readonly Row[]): MoneyCheck {
  const out: MoneyCheck = {
    players: rows.length,
    ledgerRows: 0,
    mismatched: 0,
    negative: 0,
    violations: [],
    error: null,
  };
  for (const r of rows) {
    out.ledgerRows += Number(r.rows);
    const soft = BigInt(r.soft);
    const hard = BigInt(r.hard);
    const bad: string[] = [];
    if (soft !== BigInt(r.soft_sum) || hard !== BigInt(r.hard_sum)) {
      out.mismatched++;
      bad.push(`balance soft ${soft} hard ${hard} ≠ ledger soft ${r.soft_sum} hard ${r.hard_sum}`);
    }
    if (soft < 0n || hard < 0n) {
      out.negative++;
      bad.push(`negative balance soft ${soft} hard ${hard}`);
    }
    if (bad.length > 0 && out.violations.length < 10) out.violations.push(`${r.user_id}: ${bad.join('; ')}`);
  }
  return out;
}

/** Runs the check against `pgUrl` (optionally a schema); never throws (errors are in `error`). */
export async function moneyCheck(
  pgUrl: string,
  opts: { schema?: string; timeoutMs?: number } = {},
): Promise<MoneyCheck> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const client = new Client({
    connectionString: pgUrl,
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    ...(opts.schema !== undefined && { options: `-c search_path=${opts.schema}` }),
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const r = await client.query<Row>(SQL);
    return checkRows(r.rows);
  } catch (err) {
    return { players: 0, ledgerRows: 0, mismatched: 0, negative: 0, violations: [], error: (err as Error).message };
  } finally {
    await client.end().catch(() => undefined);
  }
}
