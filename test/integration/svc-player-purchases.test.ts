/**
 * buyCurrency through two real player instances over ZeroMQ, with the verifiers built from the
 * config as `noon start player` builds them (appstore with a root PEM file of our own test CA,
 * development, the Google Play stub), on PGlite and on real Postgres. A verified App Store
 * transaction credits the catalog's amount exactly once, whatever the client claims and however
 * often (or concurrently) the receipt comes back; forged, expired, foreign, other-app and
 * unknown-product receipts are each refused with their reason and write nothing; without a
 * verifier, purchases are refused with how to configure one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryKv } from '../../shared/data/memory-kv';
import type { Db } from '../../shared/data/sql';
import { BuyRequest, Currency, ErrorCode, GameError, type Wallet } from '../../shared/protocol';
import { createPlayerModule } from '../../services/player/module';
import { startTestCluster, type TestCluster, type TestUser } from '../support/cluster';
import { anyModule } from '../support/svc-player-util';
import { DB_KINDS, openTestDb, type TestDb } from '../support/test-db';
import {
  makeChain,
  signTransaction,
  strangerKey,
  TEST_BUNDLE_ID,
  transaction,
  type AppStoreChain,
} from '../support/appstore-ca';

const DAY = 86_400_000;
const CATALOG = { gems_100: { currency: 'hard', amount: 100 }, coins_500: { currency: 'soft', amount: 500 } };

interface Outcome {
  wallet?: { soft: number; hard: number };
  code?: ErrorCode;
  message?: string;
}

function outcome(p: Promise<Wallet>): Promise<Outcome> {
  return p.then(
    (w) => ({ wallet: { soft: Number(w.soft?.toString()), hard: Number(w.hard?.toString()) } }),
    (err: unknown) => {
      if (!(err instanceof GameError)) throw err;
      return { code: err.code, message: err.message ?? '' };
    },
  );
}

/** What the client sends: the receipt, plus a currency and amount that are never credited. */
const buy = (u: TestUser, receipt: string): Promise<Outcome> =>
  outcome(
    u.clients.player.buyCurrency(new BuyRequest({ receiptId: receipt, currency: Currency.SOFT, amount: 1_000_000 })),
  );

for (const kind of DB_KINDS)
  describe(`purchases on ${kind}`, () => {
    let testDb: TestDb | undefined;
    let db: Db;
    const kv = new MemoryKv();
    let cluster: TestCluster;
    let dir: string;
    let chain: AppStoreChain;
    let ann: TestUser;
    let bob: TestUser;
    const run = randomBytes(4).toString('hex');

    const count = async (sql: string, params: unknown[]): Promise<number> =>
      Number((await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${sql}`, params)).rows[0]?.n);
    const wallet = async (u: TestUser): Promise<{ soft: number; hard: number }> => {
      const w = await u.clients.player.getWallet();
      return { soft: Number(w.soft?.toString()), hard: Number(w.hard?.toString()) };
    };

    before(async () => {
      testDb = await openTestDb(kind, 'player_purchases');
      db = testDb.db;
      kv.start();
      dir = mkdtempSync(join(tmpdir(), 'noon-purchases-'));
      chain = makeChain();
      const rootPem = join(dir, 'root.pem');
      writeFileSync(rootPem, chain.root.pem);
      cluster = await startTestCluster({
        modules: [{ module: anyModule(createPlayerModule()), count: 2 }],
        deps: { db, kv },
        config: {
          purchaseVerifier: 'appstore,development,googleplay',
          purchaseCatalog: JSON.stringify(CATALOG),
          appstoreBundleId: TEST_BUNDLE_ID,
          appstoreRootCert: rootPem,
        },
      });
      ann = cluster.user(`ann-${run}`);
      bob = cluster.user(`bob-${run}`);
      for (const u of [ann, bob]) await cluster.anonymous().clients.player.createProfile(u.userId, u.userId);
    });

    after(async () => {
      await cluster?.stop();
      await kv.close();
      await testDb?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('a verified App Store transaction credits the catalog amount exactly once, however often it comes back', async () => {
      const t = transaction({ productId: 'gems_100' });
      const txid = String(t.transactionId);
      const receipt = signTransaction(chain, t);
      const start = await wallet(ann);
      // six copies at once, spread over both instances: one credit, six identical answers
      const first = await Promise.all(Array.from({ length: 6 }, () => buy(ann, receipt)));
      const expected = { wallet: { soft: start.soft, hard: start.hard + 100 } };
      for (const o of first)
        assert.deepEqual(o, expected, 'hard +100 from the catalog; the 1,000,000 soft asked for is ignored');
      // later: the same receipt, and another signed copy of the same transaction
      assert.deepEqual(await buy(ann, receipt), expected);
      assert.deepEqual(await buy(ann, signTransaction(chain, { ...t, signedDate: Date.now() + 1 })), expected);
      assert.deepEqual(await wallet(ann), expected.wallet);
      const source = `purchase:appstore:${txid}`;
      assert.equal(await count('player_ledger WHERE user_id = $1 AND source = $2', [ann.userId, source]), 1);
      assert.equal(
        await count('player_ledger WHERE source = $1 AND delta = 100 AND currency = $2', [source, 'hard']),
        1,
      );
      assert.equal(
        await count("player_purchases WHERE store = 'appstore' AND transaction_id = $1 AND user_id = $2", [
          txid,
          ann.userId,
        ]),
        1,
      );
      assert.equal(await count('player_idempotency WHERE key = $1', [`purchase:appstore:${txid}`]), 1);
    });

    test('a transaction already redeemed by another account is refused, and credits nobody', async () => {
      const t = transaction({ productId: 'coins_500' });
      const receipt = signTransaction(chain, t);
      const bobBefore = await wallet(bob);
      assert.ok((await buy(ann, receipt)).wallet);
      const stolen = await buy(bob, receipt);
      assert.equal(stolen.code, ErrorCode.CONFLICT);
      assert.match(stolen.message ?? '', /already redeemed by another account/);
      assert.deepEqual(await buy(bob, receipt), stolen, 'the refusal is the recorded outcome');
      assert.deepEqual(await wallet(bob), bobBefore);
      assert.equal(await count('player_ledger WHERE source = $1', [`purchase:appstore:${String(t.transactionId)}`]), 1);
      assert.equal(
        await count('player_ledger WHERE user_id = $1 AND delta > 0 AND source LIKE $2', [bob.userId, 'purchase:%']),
        0,
      );
    });

    test('forged, expired, foreign-rooted, other-app and unknown-product receipts: each refused with its reason, nothing written', async () => {
      const expired = makeChain({
        root: chain.root,
        leaf: { notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) },
      });
      const cases: Array<[string, () => string, string]> = [
        ['forged signature', () => signTransaction(chain, transaction(), { signWith: strangerKey() }), 'bad-signature'],
        ['expired leaf certificate', () => signTransaction(expired, transaction()), 'certificate-expired'],
        ['chain to another root', () => signTransaction(makeChain(), transaction()), 'untrusted-chain'],
        [
          'wrong bundle id',
          () => signTransaction(chain, transaction({ bundleId: 'com.example.other' })),
          'wrong-bundle',
        ],
        ['unknown product', () => signTransaction(chain, transaction({ productId: 'gems_999999' })), 'unknown-product'],
        ['revoked', () => signTransaction(chain, transaction({ revocationDate: Date.now() - 1 })), 'revoked'],
        [
          'Sandbox (not allowed here)',
          () => signTransaction(chain, transaction({ environment: 'Sandbox' })),
          'environment',
        ],
      ];
      const before = await wallet(ann);
      for (const [what, make, reason] of cases) {
        const receipt = make();
        const o = await buy(ann, receipt);
        assert.equal(o.code, ErrorCode.FORBIDDEN, `${what}: ${JSON.stringify(o)}`);
        assert.match(o.message ?? '', new RegExp(`^receipt refused \\[${reason}\\]`), what);
        const txid = String(
          (JSON.parse(Buffer.from(receipt.split('.')[1] ?? '', 'base64url').toString()) as { transactionId: string })
            .transactionId,
        );
        assert.equal(await count('player_ledger WHERE source LIKE $1', [`%${txid}`]), 0, what);
        assert.equal(await count('player_purchases WHERE transaction_id = $1', [txid]), 0, what);
        assert.equal(await count('player_idempotency WHERE key LIKE $1', [`%${txid}`]), 0, what);
      }
      // a receipt id the client invented (the old way of buying) is not a receipt of any store
      const invented = await buy(ann, `r-${run}`);
      assert.equal(invented.code, ErrorCode.BAD_REQUEST);
      assert.match(invented.message ?? '', /^receipt refused \[malformed\]/);
      assert.deepEqual(await wallet(ann), before);
    });

    test('development receipts credit their catalog product; Google Play receipts are refused by the stub', async () => {
      const before = await wallet(bob);
      const receipt = `dev:coins_500:${run}-1`;
      assert.deepEqual(await buy(bob, receipt), { wallet: { soft: before.soft + 500, hard: before.hard } });
      assert.deepEqual(await buy(bob, receipt), { wallet: { soft: before.soft + 500, hard: before.hard } });
      assert.equal(await count('player_ledger WHERE source = $1', [`purchase:development:${run}-1`]), 1);
      const play = await buy(bob, `googleplay:gems_100:token-${run}`);
      assert.equal(play.code, ErrorCode.FORBIDDEN);
      assert.match(play.message ?? '', /^receipt refused \[not-configured\]: Google Play/);
    });

    test('without a verifier, purchases are refused with how to configure one', async () => {
      const off = await startTestCluster({ modules: [{ module: anyModule(createPlayerModule()) }], deps: { db, kv } });
      try {
        const o = await buy(off.user(ann.userId), signTransaction(chain, transaction()));
        assert.equal(o.code, ErrorCode.UNAVAILABLE);
        assert.match(o.message ?? '', /purchases are not configured.*NOON_PURCHASE_VERIFIER/);
      } finally {
        await off.stop();
      }
    });
  });
