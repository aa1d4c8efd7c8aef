/**
 * Which receipt verifiers a player instance uses, from its config (NOON_PURCHASE_VERIFIER and
 * friends, docs/limits.md "Purchases"), and the router that hands each receipt to the verifier of
 * its store by the receipt's shape:
 *
 * | shape | store |
 * | --- | --- |
 * | `dev:<productId>:<unique>` | development |
 * | `googleplay:<productId>:<purchaseToken>` | googleplay (a stub: refused) |
 * | a compact JWS `xxx.yyy.zzz` | appstore |
 *
 * No verifier configured: `verifierFromConfig` returns undefined and every purchase is refused
 * with `purchasesNotConfigured()`. A bad option stops the instance at start with a ConfigError
 * naming it.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, type Config } from '../../../shared/config';
import type { Logger } from '../../../shared/log';
import { STORES } from '../ledger';
import { AppStoreVerifier, certificatesFromPem, checkRoot, isJws } from './appstore';
import { DEVELOPMENT_CATALOG, loadCatalog, type Catalog } from './catalog';
import { DEV_RECEIPT_PREFIX, DevelopmentVerifier } from './development';
import { GOOGLE_PLAY_RECEIPT_PREFIX, GooglePlayStubVerifier } from './googleplay';
import {
  receiptRefused,
  type ReceiptVerifier,
  type StoreName,
  type StoreVerifier,
  type VerifiedPurchase,
} from './types';

export * from './types';
export { AppStoreVerifier, certificatesFromPem, isJws } from './appstore';
export { DEVELOPMENT_CATALOG, loadCatalog, parseCatalog, type Catalog, type CatalogEntry } from './catalog';
export { devReceipt, DevelopmentVerifier } from './development';
export { GooglePlayStubVerifier } from './googleplay';

/** The store a receipt claims to be from, by its shape alone (nothing is verified). */
export function storeOf(receipt: string): StoreName | undefined {
  if (receipt.startsWith(DEV_RECEIPT_PREFIX)) return 'development';
  if (receipt.startsWith(GOOGLE_PLAY_RECEIPT_PREFIX)) return 'googleplay';
  if (isJws(receipt)) return 'appstore';
  return undefined;
}

/** Hands each receipt to the configured verifier of its store. */
export class ReceiptRouter implements ReceiptVerifier {
  readonly name: string;

  constructor(private readonly verifiers: readonly StoreVerifier[]) {
    this.name = verifiers.map((v) => v.name).join('+');
  }

  verify(receipt: string, userId: string): Promise<VerifiedPurchase> {
    const v = this.verifiers.find((x) => x.accepts(receipt));
    if (v !== undefined) return v.verify(receipt, userId);
    const store = storeOf(receipt);
    const enabled = this.name.replace(/\+/g, ', ');
    return Promise.reject(
      store === undefined
        ? receiptRefused('malformed', `not a receipt of any store this server verifies (${enabled})`)
        : receiptRefused('unknown-store', `this server does not verify ${store} receipts (it verifies ${enabled})`),
    );
  }
}

const OPT = {
  verifier: '--purchase-verifier / NOON_PURCHASE_VERIFIER',
  catalog: '--purchase-catalog / NOON_PURCHASE_CATALOG',
  bundle: '--appstore-bundle-id / NOON_APPSTORE_BUNDLE_ID',
  root: '--appstore-root-cert / NOON_APPSTORE_ROOT_CERT',
} as const;

/** The subset of Config this file reads. */
export type PurchaseConfig = Pick<
  Config,
  'purchaseVerifier' | 'purchaseCatalog' | 'appstoreBundleId' | 'appstoreRootCert' | 'appstoreSandbox'
>;

/** The verifier names the option asks for; [] = none. Throws ConfigError on an unknown name. */
export function verifierNames(cfg: PurchaseConfig): StoreName[] {
  const names = cfg.purchaseVerifier;
  if (names.length === 1 && names[0] === 'none') return [];
  const out: StoreName[] = [];
  for (const n of names) {
    if (!(STORES as readonly string[]).includes(n))
      throw new ConfigError(
        OPT.verifier,
        `unknown verifier ${JSON.stringify(n)}; one or more of ${STORES.join(', ')}, or none`,
      );
    if (!out.includes(n as StoreName)) out.push(n as StoreName);
  }
  return out;
}

function catalogOf(cfg: PurchaseConfig, required: boolean): Catalog | undefined {
  if (cfg.purchaseCatalog === undefined) {
    if (required)
      throw new ConfigError(OPT.catalog, 'the appstore verifier needs a product catalog (a JSON file or inline JSON)');
    return undefined;
  }
  try {
    return loadCatalog(cfg.purchaseCatalog);
  } catch (err) {
    throw new ConfigError(OPT.catalog, (err as Error).message);
  }
}

function appStoreOf(cfg: PurchaseConfig, catalog: Catalog): AppStoreVerifier {
  if (cfg.appstoreBundleId === undefined || cfg.appstoreBundleId === '')
    throw new ConfigError(OPT.bundle, "the appstore verifier needs the app's bundle id");
  if (cfg.appstoreRootCert === undefined)
    throw new ConfigError(
      OPT.root,
      'the appstore verifier needs the root certificate (a PEM file: Apple Root CA - G3)',
    );
  let pem: string;
  try {
    pem = readFileSync(cfg.appstoreRootCert, 'utf8');
  } catch (err) {
    throw new ConfigError(OPT.root, `cannot read ${cfg.appstoreRootCert}: ${(err as Error).message}`);
  }
  let roots;
  try {
    roots = certificatesFromPem(pem);
    for (const r of roots) checkRoot(r);
  } catch (err) {
    throw new ConfigError(OPT.root, `${cfg.appstoreRootCert}: ${(err as Error).message}`);
  }
  if (roots.length === 0) throw new ConfigError(OPT.root, `${cfg.appstoreRootCert} holds no PEM certificate`);
  return new AppStoreVerifier({ bundleId: cfg.appstoreBundleId, roots, catalog, allowSandbox: cfg.appstoreSandbox });
}

/**
 * The verifier the config asks for, or undefined (purchases refused). Logs a warning for the
 * development verifier (receipts are not checked) and for the Google Play stub.
 */
export function verifierFromConfig(cfg: PurchaseConfig, logger: Logger): ReceiptVerifier | undefined {
  const names = verifierNames(cfg);
  if (names.length === 0) {
    logger.info('purchases off: no receipt verifier configured (NOON_PURCHASE_VERIFIER); buyCurrency refuses');
    return undefined;
  }
  const catalog = catalogOf(cfg, names.includes('appstore'));
  const verifiers: StoreVerifier[] = names.map((n) => {
    switch (n) {
      case 'appstore':
        return appStoreOf(cfg, catalog as Catalog);
      case 'googleplay':
        logger.warn('purchase verifier googleplay is a STUB: every Google Play receipt is refused');
        return new GooglePlayStubVerifier();
      case 'development':
        logger.warn(
          { products: [...(catalog ?? DEVELOPMENT_CATALOG).keys()] },
          'DEVELOPMENT PURCHASE VERIFIER: receipts are NOT verified, anyone can mint currency with dev:<productId>:<unique>; never enable it in production',
        );
        return new DevelopmentVerifier(catalog ?? DEVELOPMENT_CATALOG);
    }
  });
  logger.info(
    {
      verifiers: names,
      ...(names.includes('appstore') ? { bundleId: cfg.appstoreBundleId, sandbox: cfg.appstoreSandbox } : {}),
    },
    'purchases on',
  );
  return new ReceiptRouter(verifiers);
}
