/**
 * Google Play: a STUB. It claims receipts of the form `googleplay:<productId>:<purchaseToken>` and
 * refuses every one of them with `receipt refused [not-configured]`. Nothing is ever credited
 * through it; it exists so that the receipt shape and the refusal are fixed, and so that a real
 * verifier has a place to go.
 *
 * What a real one needs (not implemented here):
 * - a Google Cloud service account with access to the app in the Play Console, and its key; an
 *   OAuth 2.0 access token for the scope `https://www.googleapis.com/auth/androidpublisher`;
 * - the Play Developer API `purchases.products.get`:
 *   `GET https://androidpublisher.googleapis.com/androidpublisher/v3/applications/{packageName}/purchases/products/{productId}/tokens/{purchaseToken}`,
 *   checking `purchaseState` = 0 (purchased), the package name, `productId` in the catalog, and
 *   using `orderId` as the transaction id (the idempotency key); `quantity` multiplies the amount;
 * - then `purchases.products.consume` (or `acknowledge`) after the credit commits, since Play
 *   refunds purchases that are not acknowledged within three days;
 * - outbound HTTPS. A game service has no network of its own (docs/architecture.md §1), so the
 *   real verifier would be given to `createPlayerModule({ receiptVerifier })` by the process that
 *   composes the service, or live in a service of its own.
 */
import { receiptRefused, type StoreVerifier, type VerifiedPurchase } from './types';

export const GOOGLE_PLAY_RECEIPT_PREFIX = 'googleplay:';

export class GooglePlayStubVerifier implements StoreVerifier {
  readonly name = 'googleplay' as const;

  accepts(receipt: string): boolean {
    return receipt.startsWith(GOOGLE_PLAY_RECEIPT_PREFIX);
  }

  verify(): Promise<VerifiedPurchase> {
    return Promise.reject(
      receiptRefused(
        'not-configured',
        'Google Play purchases are not verified by this server (the googleplay verifier is a stub that refuses every receipt)',
      ),
    );
  }
}
