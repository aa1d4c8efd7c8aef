/**
 * App Store (StoreKit 2) purchases. The receipt is the transaction's JWS as StoreKit 2 gives it to
 * the app (`Transaction.jwsRepresentation`, the App Store Server API's `signedTransactionInfo`):
 * `base64url(header).base64url(payload).base64url(signature)`, signed ES256 by a leaf certificate
 * whose chain is in the header's `x5c` (leaf, intermediate, root, base64 DER).
 *
 * Checks, in order (each refusal names its reason, `receipt refused [<reason>]: …`):
 * 1. shape: three base64url parts; the header is `{"alg":"ES256","x5c":[2..3 certificates]}`;
 *    the leaf key is EC P-256 (`malformed`);
 * 2. the chain (`untrusted-chain`): the leaf is issued (names, key identifiers) and signed by the
 *    intermediate, the intermediate by one of the configured root certificates (a root sent in
 *    `x5c` must be byte-identical to a configured one: it is never trusted for itself); the
 *    intermediate is a CA; the leaf carries Apple's receipt-signing marker extension
 *    (1.2.840.113635.100.6.11.1) and the intermediate Apple's WWDR marker
 *    (1.2.840.113635.100.6.2.1), so another certificate under the same root — a developer's own,
 *    say — cannot sign transactions;
 * 3. validity (`certificate-expired`): now is within every certificate's notBefore..notAfter;
 * 4. the signature (`bad-signature`) over `header.payload` with the leaf's public key;
 * 5. the transaction: `bundleId` is the configured one (`wrong-bundle`); `environment` is
 *    `Production`, or `Sandbox` when allowed (`environment`); `productId` is in the catalog
 *    (`unknown-product`); `type` is `Consumable` (`not-consumable`: currency is consumed, and
 *    a restorable product would come back with the same id); no `revocationDate` (`revoked`);
 *    no `expiresDate` in the past (`expired`).
 *
 * The idempotency key is `transactionId`: each purchase of a consumable has its own, so one
 * transaction credits once, and a second purchase of the same product credits again.
 * (`originalTransactionId` is the same across a subscription's renewals and a product's restores;
 * for consumables it equals `transactionId` and would add nothing.)
 *
 * Not done here (see docs/limits.md, "Purchases"): certificate revocation (OCSP) of the chain, the
 * App Store Server API (refund notifications, `appAccountToken` binding to the account).
 */
import { verify as verifySignature, X509Certificate, type KeyObject } from 'node:crypto';
import { MAX_AMOUNT } from '../rules';
import type { Catalog } from './catalog';
import { extensionOids } from './der';
import { receiptRefused, type RefusalReason, type StoreVerifier, type VerifiedPurchase } from './types';

/** Apple's marker extensions (as checked by Apple's own App Store Server Library). */
export const APPLE_LEAF_MARKER_OID = '1.2.840.113635.100.6.11.1';
export const APPLE_INTERMEDIATE_MARKER_OID = '1.2.840.113635.100.6.2.1';

/** Apple documents at most 10 units of a consumable in one transaction. */
export const MAX_QUANTITY = 10;

const JWS_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const TRANSACTION_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

export interface AppStoreOptions {
  /** the app's bundle id; every transaction must carry exactly this */
  bundleId: string;
  /** the trusted root certificates (Apple Root CA - G3 in production) */
  roots: readonly X509Certificate[];
  catalog: Catalog;
  /** accept `Sandbox` transactions as well as `Production` (TestFlight, sandbox testers) */
  allowSandbox: boolean;
  /** the clock, ms (tests) */
  now?: () => number;
}

/** Does this string look like a compact JWS (the App Store's receipt shape)? */
export function isJws(receipt: string): boolean {
  return JWS_RE.test(receipt);
}

/** Every certificate of a PEM text (one or more `BEGIN CERTIFICATE` blocks). */
export function certificatesFromPem(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

/** Throws unless `cert` is a self-signed CA certificate (what a configured root must be). */
export function checkRoot(cert: X509Certificate): void {
  if (!cert.ca) throw new Error(`${cert.subject.replace(/\n/g, ', ')} is not a CA certificate`);
  if (!cert.checkIssued(cert) || !cert.verify(cert.publicKey))
    throw new Error(`${cert.subject.replace(/\n/g, ', ')} is not self-signed`);
}

function refuse(reason: RefusalReason, detail: string): never {
  throw receiptRefused(reason, detail);
}

function decodeJson(part: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return refuse('malformed', `the JWS ${what} is not base64url JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return refuse('malformed', `the JWS ${what} is not an object`);
  return v as Record<string, unknown>;
}

function parseCert(b64: unknown, i: number): X509Certificate {
  if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64))
    return refuse('malformed', `x5c[${i}] is not base64`);
  try {
    return new X509Certificate(Buffer.from(b64, 'base64'));
  } catch {
    return refuse('malformed', `x5c[${i}] is not a DER certificate`);
  }
}

function hasMarker(cert: X509Certificate, oid: string): boolean {
  try {
    return extensionOids(cert.raw).includes(oid);
  } catch {
    return false;
  }
}

function name(cert: X509Certificate): string {
  return cert.subject.replace(/\n/g, ', ');
}

/** Signed by `issuer` and issued by it (names, key identifiers, key usage). */
function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

function optionalMs(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) return refuse('malformed', `${field} is not a time in ms`);
  return v;
}

export class AppStoreVerifier implements StoreVerifier {
  readonly name = 'appstore' as const;
  private readonly now: () => number;

  constructor(private readonly opts: AppStoreOptions) {
    if (opts.bundleId.length === 0) throw new Error('the App Store verifier needs a bundle id');
    if (opts.roots.length === 0) throw new Error('the App Store verifier needs at least one root certificate');
    for (const r of opts.roots) checkRoot(r);
    this.now = opts.now ?? Date.now;
  }

  accepts(receipt: string): boolean {
    return isJws(receipt);
  }

  verify(receipt: string): Promise<VerifiedPurchase> {
    try {
      return Promise.resolve(this.check(receipt));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  private check(receipt: string): VerifiedPurchase {
    if (!isJws(receipt))
      refuse('malformed', 'an App Store receipt is a JWS: base64url(header).base64url(payload).base64url(signature)');
    const [h, p, s] = receipt.split('.') as [string, string, string];
    const header = decodeJson(h, 'header');
    if (header.alg !== 'ES256') refuse('malformed', `the JWS alg must be ES256, not ${JSON.stringify(header.alg)}`);
    const x5c = header.x5c;
    if (!Array.isArray(x5c) || x5c.length < 2 || x5c.length > 3)
      refuse('malformed', 'the JWS header must carry x5c: [leaf, intermediate, root?]');
    const [leaf, intermediate, sentRoot] = x5c.map(parseCert) as [X509Certificate, X509Certificate, X509Certificate?];
    const root = this.chain(leaf, intermediate, sentRoot);
    this.validity([leaf, intermediate, root]);
    this.signature(leaf.publicKey, `${h}.${p}`, s);
    return this.transaction(decodeJson(p, 'payload'));
  }

  /** The trusted root the chain leads to; refuses anything else. */
  private chain(leaf: X509Certificate, intermediate: X509Certificate, sentRoot?: X509Certificate): X509Certificate {
    if (sentRoot !== undefined && !this.opts.roots.some((r) => r.raw.equals(sentRoot.raw)))
      refuse('untrusted-chain', `the root in x5c (${name(sentRoot)}) is not a configured root certificate`);
    const root = this.opts.roots.find((r) => issuedBy(intermediate, r));
    if (root === undefined)
      refuse(
        'untrusted-chain',
        `the intermediate (${name(intermediate)}) is not issued by a configured root certificate`,
      );
    if (!intermediate.ca) refuse('untrusted-chain', 'the intermediate certificate is not a CA');
    if (!issuedBy(leaf, intermediate))
      refuse('untrusted-chain', `the leaf (${name(leaf)}) is not issued by the intermediate (${name(intermediate)})`);
    if (leaf.ca) refuse('untrusted-chain', 'the leaf certificate is a CA');
    if (!hasMarker(intermediate, APPLE_INTERMEDIATE_MARKER_OID))
      refuse('untrusted-chain', `the intermediate lacks Apple's marker extension ${APPLE_INTERMEDIATE_MARKER_OID}`);
    if (!hasMarker(leaf, APPLE_LEAF_MARKER_OID))
      refuse('untrusted-chain', `the leaf lacks Apple's receipt-signing marker extension ${APPLE_LEAF_MARKER_OID}`);
    return root;
  }

  private validity(certs: X509Certificate[]): void {
    const now = this.now();
    for (const [i, c] of certs.entries()) {
      const what = ['leaf', 'intermediate', 'root'][i] as string;
      const from = Date.parse(c.validFrom);
      const to = Date.parse(c.validTo);
      if (!(now >= from)) refuse('certificate-expired', `the ${what} certificate is not valid before ${c.validFrom}`);
      if (!(now <= to)) refuse('certificate-expired', `the ${what} certificate expired ${c.validTo}`);
    }
  }

  private signature(key: KeyObject, signingInput: string, sig: string): void {
    const d = key.asymmetricKeyDetails;
    if (key.asymmetricKeyType !== 'ec' || d?.namedCurve !== 'prime256v1')
      refuse('malformed', 'the leaf key is not EC P-256 (ES256)');
    const raw = Buffer.from(sig, 'base64url');
    // ES256: r || s, 32 bytes each (RFC 7518 §3.4), not DER.
    if (raw.length !== 64) refuse('bad-signature', 'an ES256 signature is 64 bytes');
    const ok = verifySignature('sha256', Buffer.from(signingInput, 'ascii'), { key, dsaEncoding: 'ieee-p1363' }, raw);
    if (!ok) refuse('bad-signature', "the JWS signature does not verify with the leaf certificate's key");
  }

  private transaction(t: Record<string, unknown>): VerifiedPurchase {
    const { bundleId, environment, productId, type, transactionId } = t;
    if (bundleId !== this.opts.bundleId)
      refuse('wrong-bundle', `the transaction is for bundle ${JSON.stringify(bundleId)}, not ${this.opts.bundleId}`);
    if (!(environment === 'Production' || (environment === 'Sandbox' && this.opts.allowSandbox)))
      refuse(
        'environment',
        `${JSON.stringify(environment)} transactions are not accepted (Production${this.opts.allowSandbox ? ' and Sandbox' : ' only; NOON_APPSTORE_SANDBOX allows Sandbox'})`,
      );
    const entry = typeof productId === 'string' ? this.opts.catalog.get(productId) : undefined;
    if (entry === undefined || typeof productId !== 'string')
      refuse('unknown-product', `product ${JSON.stringify(productId)} is not in the catalog`);
    if (type !== 'Consumable')
      refuse('not-consumable', `product ${productId} is a ${JSON.stringify(type)}, not a Consumable`);
    const revoked = optionalMs(t.revocationDate, 'revocationDate');
    if (revoked !== undefined) refuse('revoked', `the transaction was revoked at ${new Date(revoked).toISOString()}`);
    const expires = optionalMs(t.expiresDate, 'expiresDate');
    if (expires !== undefined && expires < this.now())
      refuse('expired', `the transaction expired at ${new Date(expires).toISOString()}`);
    if (typeof transactionId !== 'string' || !TRANSACTION_ID_RE.test(transactionId))
      refuse('malformed', 'transactionId must be 1..64 characters of A-Z a-z 0-9 . _ -');
    const quantity = t.quantity ?? 1;
    if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY)
      refuse('malformed', `quantity must be an integer in 1..${MAX_QUANTITY}`);
    const amount = entry.amount * quantity;
    if (amount > MAX_AMOUNT) refuse('malformed', 'the purchase is worth more than one credit may be');
    return {
      store: 'appstore',
      transactionId,
      productId,
      currency: entry.currency,
      amount,
      environment,
    };
  }
}
