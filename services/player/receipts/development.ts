/**
 * The DEVELOPMENT verifier: no store, no proof. It accepts any receipt of the form
 * `dev:<productId>:<unique>` for a product of the catalog, and credits the catalog's amount once
 * per `<unique>` (the transaction id). It exists so that `noon up`, the demo, `noon loadtest` and
 * tests can buy currency without a store; anyone who can reach a server running it can mint
 * currency, so it logs a warning at start and must never be enabled in production.
 */
import { PRODUCT_ID_RE, type Catalog } from './catalog';
import { receiptRefused, type StoreVerifier, type VerifiedPurchase } from './types';

export const DEV_RECEIPT_PREFIX = 'dev:';
const UNIQUE_RE = /^[A-Za-z0-9._:-]{1,100}$/;

/** A development receipt for `productId` (clients and tests build them with this). */
export function devReceipt(productId: string, unique: string): string {
  return `${DEV_RECEIPT_PREFIX}${productId}:${unique}`;
}

export class DevelopmentVerifier implements StoreVerifier {
  readonly name = 'development' as const;

  constructor(private readonly catalog: Catalog) {}

  accepts(receipt: string): boolean {
    return receipt.startsWith(DEV_RECEIPT_PREFIX);
  }

  verify(receipt: string): Promise<VerifiedPurchase> {
    const rest = receipt.slice(DEV_RECEIPT_PREFIX.length);
    const colon = rest.indexOf(':');
    const productId = colon < 0 ? '' : rest.slice(0, colon);
    const unique = colon < 0 ? '' : rest.slice(colon + 1);
    if (!receipt.startsWith(DEV_RECEIPT_PREFIX) || !PRODUCT_ID_RE.test(productId) || !UNIQUE_RE.test(unique))
      return Promise.reject(
        receiptRefused(
          'malformed',
          'a development receipt is dev:<productId>:<unique> (unique: 1..100 of A-Z a-z 0-9 . _ : -)',
        ),
      );
    const entry = this.catalog.get(productId);
    if (entry === undefined)
      return Promise.reject(receiptRefused('unknown-product', `product ${productId} is not in the catalog`));
    return Promise.resolve({
      store: 'development',
      transactionId: unique,
      productId,
      currency: entry.currency,
      amount: entry.amount,
      environment: 'development',
    });
  }
}
