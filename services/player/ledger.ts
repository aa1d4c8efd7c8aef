/**
 * Where money comes from and goes to. Every row of `player_ledger` names its **source**, so that
 * "no money from nowhere" is a query (`auditLedger`): every credit (delta > 0) has a source of a
 * known kind, and every balance equals the sum of its ledger rows.
 *
 * Sources, built only by `ledgerSource`:
 *
 * | source | credit / debit | written by |
 * | --- | --- | --- |
 * | `initial` | credit | the starter wallet (`createPlayer`) |
 * | `purchase:<store>:<transaction id>` | credit | `buyCurrency`, after a receipt verifier accepted the store's transaction (receipts/) |
 * | `grant:<reason>` | credit | `Player:grant` (internal: duel prizes, a studio's rewards) |
 * | `round:<idempotency key>` | credit | `playRound`'s server-decided reward |
 * | `duel:<kind>:<id>` (e.g. `duel:escrow:<id>`) | both | the duel service's stakes, through its own Player methods |
 * | `spend:<reason>` | debit | `spendCurrency` |
 * | `unit:<op>:<unit id>` | debit | `levelUp`, `evolve` |
 * | `legacy:…` | both | rows written before sources existed (migration 002_ledger_source); a `legacy:purchase:…` credit came from an unverified receipt and is reported by the audit |
 *
 * The schema backs this up (migration 002_ledger_source): `source` is NOT NULL and non-empty, and a
 * positive delta must carry one of the credit kinds above (CHECK, enforced for every new row).
 */
import type { Queryable } from '../../shared/data/sql';

/** What a ledger row says about itself, besides the amount. */
export interface LedgerEntry {
  /** short human label (`purchase`, `shop`, `levelUp`, a grant's reason) */
  reason: string;
  /** the idempotency key of the operation: one row per (user, currency, key) */
  key: string;
  /** where the money came from or went to: a value built by `ledgerSource` */
  source: string;
}

/** The stores a purchase can come from (the `<store>` of `purchase:<store>:<id>`). */
export const STORES = ['appstore', 'googleplay', 'development'] as const;
export type StoreName = (typeof STORES)[number];

export const ledgerSource = {
  initial: (): string => 'initial',
  purchase: (store: StoreName, transactionId: string): string => `purchase:${store}:${transactionId}`,
  grant: (reason: string): string => `grant:${reason}`,
  round: (key: string): string => `round:${key}`,
  /** the duel service's own money movements: `duel:escrow:<id>` holds or returns a stake */
  duel: (kind: string, id: string): string => `duel:${kind}:${id}`,
  duelEscrow: (id: string): string => `duel:escrow:${id}`,
  spend: (reason: string): string => `spend:${reason}`,
  unit: (op: string, unitId: string): string => `unit:${op}:${unitId}`,
};

/**
 * The credit kinds, as one regular expression valid both in JavaScript and in Postgres (`~`).
 * The CHECK of migration 002_ledger_source holds the same text (a migration never changes, so
 * a new credit kind needs a new migration replacing that constraint, and this constant).
 */
export const CREDIT_SOURCE_PATTERN =
  '^(initial|purchase:(appstore|googleplay|development):.+|grant:.+|round:.+|duel:[a-z]+:.+)$';
const CREDIT_SOURCE_RE = new RegExp(CREDIT_SOURCE_PATTERN);

/** Longest source accepted: a prefix and one key or transaction id. */
export const MAX_SOURCE = 256;

/** Throws (a bug, not a game refusal) when a ledger row would not say where its money came from. */
export function checkEntry(delta: number, entry: LedgerEntry): void {
  const { source } = entry;
  if (source.length === 0 || source.length > MAX_SOURCE)
    throw new Error(`ledger source must be 1..${MAX_SOURCE} characters, got ${JSON.stringify(source)}`);
  if (delta > 0 && !CREDIT_SOURCE_RE.test(source))
    throw new Error(`a credit needs a known source (ledgerSource), got ${JSON.stringify(source)}`);
}

export interface LedgerAudit {
  /** credits whose source is missing or of no known kind (legacy purchases included) */
  unsourcedCredits: Array<{ id: string; userId: string; currency: string; delta: string; source: string }>;
  /** players whose balance differs from their ledger sum, per currency */
  mismatchedBalances: Array<{ userId: string; currency: string; balance: string; ledgerSum: string }>;
}

/** The audit's first half: every credit with no source of a known credit kind. */
export const UNSOURCED_CREDITS_SQL = `
SELECT id::text AS id, user_id, currency, delta::text AS delta, COALESCE(source, '') AS source
  FROM player_ledger
 WHERE delta > 0 AND (source IS NULL OR source !~ $1)
 ORDER BY id`;

/** The second half: every (player, currency) whose balance is not the sum of its ledger rows. */
export const MISMATCHED_BALANCES_SQL = `
SELECT p.user_id, c.currency,
       (CASE c.currency WHEN 'soft' THEN p.soft ELSE p.hard END)::text AS balance,
       COALESCE((SELECT sum(l.delta) FROM player_ledger l WHERE l.user_id = p.user_id AND l.currency = c.currency), 0)::text AS ledger_sum
  FROM players p CROSS JOIN (VALUES ('soft'), ('hard')) AS c (currency)
 WHERE (CASE c.currency WHEN 'soft' THEN p.soft ELSE p.hard END)
       <> COALESCE((SELECT sum(l.delta) FROM player_ledger l WHERE l.user_id = p.user_id AND l.currency = c.currency), 0)
 ORDER BY p.user_id, c.currency`;

/** "No money from nowhere", over the whole ledger: empty lists mean it holds. */
export async function auditLedger(q: Queryable): Promise<LedgerAudit> {
  const credits = await q.query<{ id: string; user_id: string; currency: string; delta: string; source: string }>(
    UNSOURCED_CREDITS_SQL,
    [CREDIT_SOURCE_PATTERN],
  );
  const balances = await q.query<{ user_id: string; currency: string; balance: string; ledger_sum: string }>(
    MISMATCHED_BALANCES_SQL,
  );
  return {
    unsourcedCredits: credits.rows.map((r) => ({
      id: r.id,
      userId: r.user_id,
      currency: r.currency,
      delta: r.delta,
      source: r.source,
    })),
    mismatchedBalances: balances.rows.map((r) => ({
      userId: r.user_id,
      currency: r.currency,
      balance: r.balance,
      ledgerSum: r.ledger_sum,
    })),
  };
}
