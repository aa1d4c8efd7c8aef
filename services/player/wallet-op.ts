/**
 * A wallet operation (buy, spend, grant) in one round trip: one call of the SQL function
 * `player_wallet_apply_v1` (wallet-migrations.ts) in autocommit, which locks the player, checks
 * and records the idempotency key, claims a purchase's store transaction, refuses a negative
 * balance, changes the balances and writes the ledger rows. Same outcomes as `once` +
 * `applyDelta` (idempotency.ts, store.ts), which the calls that need more than a wallet change
 * (playRound, units, escrow) still use; both take the player's row lock first.
 *
 * A connection lost after the statement was sent is "outcome unknown" (CommitUnknownError), a
 * statement timeout is the driver's error, as for a transaction (Db.autocommit).
 */
import type { Db } from '../../shared/data/sql';
import { ErrorCode, GameError } from '../../shared/protocol';
import { replay, type OnceResult, type OnceSpec, type Recorded } from './idempotency';
import { checkEntry, type LedgerEntry, type StoreName } from './ledger';
import type { WalletRow } from './store';
import { WALLET_APPLY_FUNCTION } from './wallet-migrations';

/** The store transaction a purchase claims; its currency and amount are the change's credit. */
export interface PurchaseClaim {
  store: StoreName;
  transactionId: string;
  productId: string;
  environment: string;
}

export interface WalletChange {
  /** signed: a spend is negative, a credit positive; 0 leaves the currency (and its ledger) alone */
  soft: number;
  hard: number;
  /** the ledger row(s): one per changed currency, both with this reason, key and source */
  entry: LedgerEntry;
  /** a purchase: claimed once, by one account (CONFLICT for any other) */
  purchase?: PurchaseClaim;
}

interface Row {
  outcome: 'missing' | 'replayed' | 'done';
  recorded_op: string | null;
  recorded_fingerprint: string | null;
  recorded_response: string | null;
}

const APPLY_SQL = `SELECT outcome, recorded_op, recorded_fingerprint, recorded_response
  FROM ${WALLET_APPLY_FUNCTION}($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`;

function checkChange(spec: OnceSpec, c: WalletChange): void {
  // The function writes the ledger rows under the operation's key.
  if (c.entry.key !== spec.key) throw new Error(`ledger key ${c.entry.key} is not the operation's key ${spec.key}`);
  for (const delta of [c.soft, c.hard]) {
    if (!Number.isSafeInteger(delta)) throw new Error(`wallet change must be a safe integer, got ${delta}`);
    if (delta !== 0) checkEntry(delta, c.entry);
  }
  if (c.purchase !== undefined && (c.soft < 0 || c.hard < 0 || (c.soft === 0) === (c.hard === 0)))
    throw new Error('a purchase credits exactly one currency');
}

/**
 * Applies the change once per (spec.userId, spec.key); a repeat replays the first outcome (its
 * wallet, or its refusal), a key reused for another request is CONFLICT. NOT_FOUND when the
 * player does not exist (nothing recorded).
 */
export async function applyWalletOnce(db: Db, spec: OnceSpec, change: WalletChange): Promise<OnceResult<WalletRow>> {
  checkChange(spec, change);
  const p = change.purchase;
  const res = await db.autocommit<Row>(APPLY_SQL, [
    spec.userId,
    spec.key,
    spec.op,
    spec.fingerprint,
    change.soft,
    change.hard,
    change.entry.reason,
    change.entry.source,
    p?.store ?? null,
    p?.transactionId ?? null,
    p?.productId ?? null,
    p?.environment ?? null,
  ]);
  const row = res.rows[0];
  if (row === undefined) throw new Error(`${WALLET_APPLY_FUNCTION} returned no row`);
  if (row.outcome === 'missing')
    throw new GameError({ code: ErrorCode.NOT_FOUND, message: 'no player profile for this user', retryable: false });
  const rec = {
    op: row.recorded_op ?? '',
    fingerprint: row.recorded_fingerprint ?? '',
    response: row.recorded_response ?? '',
  };
  if (row.outcome === 'replayed') return { value: replay<WalletRow>(spec, rec), applied: false };
  const out = JSON.parse(rec.response) as Recorded<WalletRow>;
  if ('refused' in out) throw new GameError({ code: out.refused.code, message: out.refused.message, retryable: false });
  return { value: out.ok, applied: true };
}
