/**
 * The purchase path's contract. `Player:buyCurrency` credits only what a `ReceiptVerifier`
 * returns: the store proved that a transaction happened, and the server-side catalog says what its
 * product is worth. The client's own `currency` and `amount` are never credited.
 */
import { ErrorCode, GameError } from '../../../shared/protocol';
import type { StoreName } from '../ledger';

export type { StoreName };

export type CurrencyName = 'soft' | 'hard';

/** A store transaction the verifier has proved, priced by the catalog. */
export interface VerifiedPurchase {
  store: StoreName;
  /** the store's id of this transaction: the idempotency key (one credit per store + id) */
  transactionId: string;
  productId: string;
  currency: CurrencyName;
  /** what is credited: the catalog's amount (× the quantity the store reports) */
  amount: number;
  /** where the store says it happened (`Production`, `Sandbox`, `development`) */
  environment: string;
}

export interface ReceiptVerifier {
  /** a name for logs (`appstore`, `googleplay`, `development`, or a router of several) */
  readonly name: string;
  /**
   * Proves `receipt` for `userId`, or throws a `GameError` (`receiptRefused`, `BAD_REQUEST` for a
   * malformed receipt, `UNAVAILABLE` when the store cannot be asked). Never writes anything: the
   * credit, keyed by the transaction id, is buyCurrency's.
   */
  verify(receipt: string, userId: string): Promise<VerifiedPurchase>;
}

/** Why a receipt was refused; the first word of every refusal's message, in brackets. */
export type RefusalReason =
  | 'malformed'
  | 'bad-signature'
  | 'untrusted-chain'
  | 'certificate-expired'
  | 'wrong-bundle'
  | 'unknown-product'
  | 'not-consumable'
  | 'revoked'
  | 'expired'
  | 'environment'
  | 'unknown-store'
  | 'not-configured';

/**
 * A refused receipt: `FORBIDDEN` (the store's proof does not hold, or is not for this game), or
 * `BAD_REQUEST` (not a receipt at all). Message: `receipt refused [<reason>]: <detail>`.
 */
export function receiptRefused(reason: RefusalReason, detail: string): GameError {
  const code = reason === 'malformed' ? ErrorCode.BAD_REQUEST : ErrorCode.FORBIDDEN;
  return new GameError({ code, message: `receipt refused [${reason}]: ${detail}`, retryable: false });
}

/** No verifier configured: purchases are off, and the message says how to turn them on. */
export function purchasesNotConfigured(): GameError {
  return new GameError({
    code: ErrorCode.UNAVAILABLE,
    message:
      'purchases are not configured on this server: set NOON_PURCHASE_VERIFIER (--purchase-verifier) to appstore ' +
      '(with NOON_APPSTORE_BUNDLE_ID, NOON_APPSTORE_ROOT_CERT) and a catalog in NOON_PURCHASE_CATALOG; ' +
      'development accepts dev:<productId>:<unique> receipts for local runs only (docs/limits.md, "Purchases")',
    retryable: false,
  });
}

/** Whether a receipt string belongs to a store, by its shape (the router picks a verifier by it). */
export interface StoreVerifier extends ReceiptVerifier {
  readonly name: StoreName;
  accepts(receipt: string): boolean;
}
