/**
 * The receipt verifiers as pure code: the App Store (StoreKit 2) JWS verifier against a CA of our
 * own (test/support/appstore-ca.ts: root → intermediate → leaf, EC P-256), the development
 * verifier, the Google Play stub, the router, the catalog and the config that builds them. Every
 * refusal names its reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../shared/config';
import { silentLogger } from '../../shared/log';
import { ErrorCode, GameError } from '../../shared/protocol';
import {
  AppStoreVerifier,
  DEVELOPMENT_CATALOG,
  devReceipt,
  DevelopmentVerifier,
  GooglePlayStubVerifier,
  parseCatalog,
  ReceiptRouter,
  verifierFromConfig,
  type RefusalReason,
} from '../../services/player/receipts';
import { extensionOids } from '../../services/player/receipts/der';
import { upConfig } from '../../cli/up';
import {
  makeCert,
  makeChain,
  signTransaction,
  strangerKey,
  TEST_BUNDLE_ID,
  transaction,
  type AppStoreChain,
} from '../support/appstore-ca';

const CATALOG = parseCatalog({
  gems_100: { currency: 'hard', amount: 100 },
  coins_500: { currency: 'soft', amount: 500 },
});
const DAY = 86_400_000;
const chain = makeChain();

function appStore(opts: { allowSandbox?: boolean; roots?: AppStoreChain['root'][] } = {}): AppStoreVerifier {
  return new AppStoreVerifier({
    bundleId: TEST_BUNDLE_ID,
    roots: (opts.roots ?? [chain.root]).map((r) => r.x509),
    catalog: CATALOG,
    allowSandbox: opts.allowSandbox ?? false,
  });
}

async function refusal(p: Promise<unknown>): Promise<{ code: ErrorCode | undefined; reason: string; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof GameError, `a GameError, got ${String(err)}`);
    const message = err.message ?? '';
    return { code: err.code, reason: /^receipt refused \[([a-z-]+)\]/.exec(message)?.[1] ?? '', message };
  }
  assert.fail('the receipt was accepted');
}

async function refusedFor(p: Promise<unknown>, reason: RefusalReason): Promise<string> {
  const r = await refusal(p);
  assert.equal(r.reason, reason, r.message);
  assert.equal(r.code, reason === 'malformed' ? ErrorCode.BAD_REQUEST : ErrorCode.FORBIDDEN, r.message);
  return r.message;
}

test('a signed transaction from the configured chain is verified and priced by the catalog, not by the client', async () => {
  const t = transaction({ productId: 'gems_100' });
  const got = await appStore().verify(signTransaction(chain, t));
  assert.deepEqual(got, {
    store: 'appstore',
    transactionId: t.transactionId,
    productId: 'gems_100',
    currency: 'hard',
    amount: 100,
    environment: 'Production',
  });
  // the chain without its root in x5c is fine too: the root is the configured one either way
  const two = signTransaction(chain, t, { x5c: [chain.leaf.der, chain.intermediate.der] });
  assert.equal((await appStore().verify(two)).transactionId, t.transactionId);
  // quantity multiplies the catalog's amount
  const three = await appStore().verify(signTransaction(chain, transaction({ productId: 'coins_500', quantity: 3 })));
  assert.deepEqual([three.currency, three.amount], ['soft', 1500]);
});

test('a forged signature is refused', async () => {
  await refusedFor(
    appStore().verify(signTransaction(chain, transaction(), { signWith: strangerKey() })),
    'bad-signature',
  );
  // a genuine signature over another payload: the payload was edited after signing
  const [h, , s] = signTransaction(chain, transaction({ productId: 'gems_100' })).split('.');
  const edited = Buffer.from(JSON.stringify(transaction({ productId: 'coins_500', quantity: 10 }))).toString(
    'base64url',
  );
  await refusedFor(appStore().verify(`${h}.${edited}.${s}`), 'bad-signature');
});

test('an expired (or not yet valid) certificate is refused', async () => {
  const expired = makeChain({
    root: chain.root,
    leaf: { notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) },
  });
  const m = await refusedFor(appStore().verify(signTransaction(expired, transaction())), 'certificate-expired');
  assert.match(m, /leaf certificate expired/);
  const early = makeChain({ root: chain.root, intermediate: { notBefore: new Date(Date.now() + DAY) } });
  assert.match(
    await refusedFor(appStore().verify(signTransaction(early, transaction())), 'certificate-expired'),
    /intermediate certificate is not valid before/,
  );
});

test('a chain to another root is refused, even one with the same name as the configured root', async () => {
  const other = makeChain();
  assert.match(
    await refusedFor(appStore().verify(signTransaction(other, transaction())), 'untrusted-chain'),
    /root in x5c .* is not a configured root/,
  );
  const withoutRoot = signTransaction(other, transaction(), { x5c: [other.leaf.der, other.intermediate.der] });
  assert.match(await refusedFor(appStore().verify(withoutRoot), 'untrusted-chain'), /not issued by a configured root/);
  // same subject as our root, another key, no key identifiers: the names match, the signature does not
  const impostorRoot = makeCert({ cn: chain.root.cn, ca: true, noKeyIds: true });
  const impostor = makeChain({ root: impostorRoot, intermediate: { noKeyIds: true } });
  assert.ok(impostor.intermediate.x509.checkIssued(chain.root.x509), 'by names alone it would pass');
  const sneaky = signTransaction(impostor, transaction(), { x5c: [impostor.leaf.der, impostor.intermediate.der] });
  assert.match(await refusedFor(appStore().verify(sneaky), 'untrusted-chain'), /not issued by a configured root/);
  // a leaf presented as its own intermediate, or a leaf certificate issuing another one
  await refusedFor(
    appStore().verify(signTransaction(chain, transaction(), { x5c: [chain.leaf.der, chain.leaf.der] })),
    'untrusted-chain',
  );
});

test("certificates without Apple's marker extensions cannot sign transactions", async () => {
  const plainLeaf = makeChain({ root: chain.root, leaf: { markers: [] } });
  assert.match(
    await refusedFor(appStore().verify(signTransaction(plainLeaf, transaction())), 'untrusted-chain'),
    /leaf lacks Apple's receipt-signing marker/,
  );
  const plainIntermediate = makeChain({ root: chain.root, intermediate: { markers: [] } });
  assert.match(
    await refusedFor(appStore().verify(signTransaction(plainIntermediate, transaction())), 'untrusted-chain'),
    /intermediate lacks Apple's marker/,
  );
});

test('the transaction must be for this app, a catalog product, a consumable, live, in an allowed environment', async () => {
  const v = appStore();
  const check = (over: Record<string, unknown>, reason: RefusalReason): Promise<string> =>
    refusedFor(v.verify(signTransaction(chain, transaction(over))), reason);
  assert.match(await check({ bundleId: 'com.example.other' }, 'wrong-bundle'), /com\.example\.other/);
  assert.match(await check({ productId: 'gems_1000000' }, 'unknown-product'), /gems_1000000/);
  await check({ type: 'Non-Consumable' }, 'not-consumable');
  await check({ revocationDate: Date.now() - 1000, revocationReason: 0 }, 'revoked');
  await check({ expiresDate: Date.now() - 1000 }, 'expired');
  assert.match(await check({ environment: 'Sandbox' }, 'environment'), /NOON_APPSTORE_SANDBOX/);
  await check({ environment: 'Xcode' }, 'environment');
  await check({ quantity: 11 }, 'malformed');
  await check({ transactionId: '' }, 'malformed');
  const sandbox = await appStore({ allowSandbox: true }).verify(
    signTransaction(chain, transaction({ environment: 'Sandbox' })),
  );
  assert.equal(sandbox.environment, 'Sandbox');
  await refusedFor(
    appStore({ allowSandbox: true }).verify(signTransaction(chain, transaction({ environment: 'Xcode' }))),
    'environment',
  );
});

test('what is not an ES256 JWS with an x5c chain is malformed', async () => {
  const v = appStore();
  await refusedFor(v.verify('receipt-42'), 'malformed');
  await refusedFor(v.verify('a.b.c'), 'malformed');
  await refusedFor(v.verify(signTransaction(chain, transaction(), { alg: 'none' })), 'malformed');
  await refusedFor(v.verify(signTransaction(chain, transaction(), { x5c: [chain.leaf.der] })), 'malformed');
  const [, p, s] = signTransaction(chain, transaction()).split('.');
  const junk = Buffer.from(JSON.stringify({ alg: 'ES256', x5c: ['not base64!', 'AAAA'] })).toString('base64url');
  await refusedFor(v.verify(`${junk}.${p}.${s}`), 'malformed');
});

test('the DER reader lists extension OIDs and refuses truncated input', () => {
  assert.deepEqual(extensionOids(chain.leaf.der).slice(-1), ['1.2.840.113635.100.6.11.1']);
  assert.throws(() => extensionOids(chain.leaf.der.subarray(0, 40)), /DER/);
  assert.throws(() => extensionOids(Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff])), /DER/);
});

test('development receipts: dev:<productId>:<unique>, catalog products only; the Google Play stub refuses', async () => {
  const dev = new DevelopmentVerifier(DEVELOPMENT_CATALOG);
  assert.deepEqual(await dev.verify(devReceipt('gems_100', 'run1:7')), {
    store: 'development',
    transactionId: 'run1:7',
    productId: 'gems_100',
    currency: 'hard',
    amount: 100,
    environment: 'development',
  });
  await refusedFor(dev.verify(devReceipt('gold_bars', 'x')), 'unknown-product');
  await refusedFor(dev.verify('dev:gems_100'), 'malformed');
  await refusedFor(dev.verify('dev:gems_100:'), 'malformed');
  const router = new ReceiptRouter([dev, new GooglePlayStubVerifier()]);
  await refusedFor(router.verify('googleplay:gems_100:token-abc', 'u1'), 'not-configured');
  assert.match(
    await refusedFor(router.verify(signTransaction(chain, transaction()), 'u1'), 'unknown-store'),
    /appstore/,
  );
  await refusedFor(router.verify('r-123', 'u1'), 'malformed');
});

test('the catalog: product ids, currencies and amounts are checked', () => {
  assert.throws(() => parseCatalog([]), /JSON object/);
  assert.throws(() => parseCatalog({}), /no products/);
  assert.throws(() => parseCatalog({ 'bad id': { currency: 'hard', amount: 1 } }), /bad id/);
  assert.throws(() => parseCatalog({ p: { currency: 'gold', amount: 1 } }), /p: currency/);
  assert.throws(() => parseCatalog({ p: { currency: 'soft', amount: 1_000_001 } }), /p: amount/);
  assert.throws(() => parseCatalog({ p: { currency: 'soft', amount: 0.5 } }), /p: amount/);
});

test('the config builds the verifiers; a missing or bad option stops the start naming it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'noon-receipts-'));
  try {
    const rootPem = join(dir, 'root.pem');
    writeFileSync(rootPem, chain.root.pem);
    const leafPem = join(dir, 'leaf.pem');
    writeFileSync(leafPem, chain.leaf.pem);
    const catalog = JSON.stringify({ gems_100: { currency: 'hard', amount: 100 } });
    const build = (o: Record<string, unknown>): unknown => verifierFromConfig(loadConfig(o, {}), silentLogger());
    const fails = (o: Record<string, unknown>, option: RegExp, why: RegExp): void => {
      assert.throws(
        () => build(o),
        (err: unknown) => err instanceof ConfigError && option.test(err.message) && why.test(err.message),
        JSON.stringify(o),
      );
    };
    assert.equal(build({}), undefined, 'no verifier: purchases off');
    assert.equal(build({ purchaseVerifier: 'none' }), undefined);
    fails({ purchaseVerifier: 'itunes' }, /NOON_PURCHASE_VERIFIER/, /unknown verifier "itunes"/);
    fails({ purchaseVerifier: 'appstore' }, /NOON_PURCHASE_CATALOG/, /needs a product catalog/);
    fails({ purchaseVerifier: 'appstore', purchaseCatalog: catalog }, /NOON_APPSTORE_BUNDLE_ID/, /bundle id/);
    const base = { purchaseVerifier: 'appstore', purchaseCatalog: catalog, appstoreBundleId: TEST_BUNDLE_ID };
    fails(base, /NOON_APPSTORE_ROOT_CERT/, /root certificate/);
    fails({ ...base, appstoreRootCert: join(dir, 'missing.pem') }, /NOON_APPSTORE_ROOT_CERT/, /cannot read/);
    fails({ ...base, appstoreRootCert: leafPem }, /NOON_APPSTORE_ROOT_CERT/, /not a CA/);
    fails({ ...base, appstoreRootCert: rootPem, purchaseCatalog: '{"x":' }, /NOON_PURCHASE_CATALOG/, /not valid JSON/);
    fails(
      { purchaseVerifier: 'development', purchaseCatalog: join(dir, 'none.json') },
      /NOON_PURCHASE_CATALOG/,
      /ENOENT/,
    );
    const v = build({ ...base, appstoreRootCert: rootPem, purchaseVerifier: 'appstore,development,googleplay' });
    assert.ok(v instanceof ReceiptRouter);
    assert.equal(v.name, 'appstore+development+googleplay');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('noon up defaults to the development verifier only on PGlite, and only when nothing is set', () => {
  const up = (o: Record<string, unknown>): { verifiers: string[]; dev: boolean } => {
    const r = upConfig(loadConfig(o, {}));
    return { verifiers: r.cfg.purchaseVerifier, dev: r.devPurchases };
  };
  assert.deepEqual(up({}), { verifiers: ['development'], dev: true });
  assert.deepEqual(up({ purchaseVerifier: 'none' }), { verifiers: ['none'], dev: false });
  assert.deepEqual(up({ purchaseVerifier: 'appstore' }), { verifiers: ['appstore'], dev: false });
  assert.deepEqual(up({ pgUrl: 'postgres://127.0.0.1/x' }), { verifiers: [], dev: false });
  assert.equal(verifierFromConfig(upConfig(loadConfig({}, {})).cfg, silentLogger())?.name, 'development');
});
