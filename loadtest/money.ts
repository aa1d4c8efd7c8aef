/**
 * The money invariant after a run, read straight from the player service's tables
 * (services/player/migrations.ts): every player's balance equals the sum of its ledger rows, per
 * currency, and no balance is negative; every credit names its source; and duels put into wallets
 * exactly what they took out (per duel, the ledger rows of its stakes, payout and refunds plus the
 * stakes still held in escrow sum to zero). Read-only, one connection, deadlines on every statement.
 */
import { Client } from 'pg';

export interface MoneyCheck {
  players: number;
  ledgerRows: number;
  /** players whose soft or hard balance differs from its ledger sum */
  mismatched: number;
  negative: number;
  /** credits (delta > 0) with no source */
  unsourcedCredits: number;
  /** duels that moved money (stakes taken) */
  duels: number;
  /** duels whose stakes, payouts, refunds and held escrow do not sum to zero */
  duelsUnbalanced: number;
  /** soft still held in escrow (duels not settled yet when the check ran) */
  stakesHeld: number;
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

const UNSOURCED_SQL = `SELECT count(*)::text AS n FROM player_ledger WHERE delta > 0 AND COALESCE(source, '') = ''`;

interface DuelRow {
  duel_id: string;
  moved: string;
  held: string;
}

/** Per duel: what its ledger rows moved (stakes < 0, payout and refunds > 0) and what escrow still holds. */
const DUELS_SQL = `
SELECT l.duel_id, l.moved::text, COALESCE(h.held, 0)::text AS held
  FROM (SELECT regexp_replace(source, '^duel:[a-z]+:', '') AS duel_id, sum(delta) AS moved
          FROM player_ledger WHERE source LIKE 'duel:%' GROUP BY 1) l
  LEFT JOIN (SELECT duel_id, sum(amount) AS held FROM player_escrow WHERE state = 'held' GROUP BY 1) h
         USING (duel_id)`;

/** Pure: folds the per-duel rows into a check (money in = money out, per duel). */
export function checkDuels(out: MoneyCheck, rows: readonly DuelRow[]): MoneyCheck {
  for (const r of rows) {
    out.duels++;
    const held = BigInt(r.held);
    out.stakesHeld += Number(held);
    if (BigInt(r.moved) + held !== 0n) {
      out.duelsUnbalanced++;
      if (out.violations.length < 10)
        out.violations.push(`duel ${r.duel_id}: ledger moved ${r.moved}, escrow holds ${r.held}: not zero-sum`);
    }
  }
  return out;
}

/** Pure: the verdict for rows of (balance, ledger sum) per player. */
export function checkRows(rows: readonly Row[]): MoneyCheck {
  const out: MoneyCheck = {
    players: rows.length,
    ledgerRows: 0,
    mismatched: 0,
    negative: 0,
    unsourcedCredits: 0,
    duels: 0,
    duelsUnbalanced: 0,
    stakesHeld: 0,
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

/** True when the check found anything wrong (or could not run). */
export function moneyFailed(m: MoneyCheck): boolean {
  return m.error !== null || m.mismatched > 0 || m.negative > 0 || m.unsourcedCredits > 0 || m.duelsUnbalanced > 0;
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
    const out = checkRows(r.rows);
    out.unsourcedCredits = Number((await client.query<{ n: string }>(UNSOURCED_SQL)).rows[0]?.n ?? 0);
    return checkDuels(out, (await client.query<DuelRow>(DUELS_SQL)).rows);
  } catch (err) {
    return { ...checkRows([]), error: (err as Error).message };
  } finally {
    await client.end().catch(() => undefined);
  }
}
