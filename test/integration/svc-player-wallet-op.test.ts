/**
 * Wallet operations in one round trip (services/player/wallet-op.ts, migration 004_wallet_apply),
 * on PGlite and on real Postgres, through the real player service: buy, spend and grant each send
 * exactly one statement to the database, in autocommit (no BEGIN, no SAVEPOINT), and keep every
 * outcome of the transaction they replace: a replay answers the first wallet and writes nothing,
 * a key reused with other parameters is CONFLICT, a refusal (INSUFFICIENT_FUNDS, a store
 * transaction of another account) is recorded and replayed, with the same codes and messages.
 * Keys recorded by the transaction path (`once`) replay through the function and back, so old and
 * new instances can share a database during a rolling deploy.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MemoryKv } from '../../shared/data/memory-kv';
import { BuyRequest, Currency, ErrorCode, GameError, GrantRequest, SpendRequest } from '../../shared/protocol';
import { once } from '../../services/player/idempotency';
import { createPlayerModule } from '../../services/player/module';
import { DEVELOPMENT_CATALOG, devReceipt, DevelopmentVerifier } from '../../services/player/receipts';
import { applyDelta, walletOf, type WalletRow } from '../../services/player/store';
import { walletMigrations, WALLET_APPLY_FUNCTION } from '../../services/player/wallet-migrations';
import { startTestCluster, type TestCluster, type TestUser } from '../support/cluster';
import { CountingDb } from '../support/counting-db';
import { anyModule } from '../support/svc-player-util';
import { DB_KINDS, openTestDb, type TestDb } from '../support/test-db';

async function refusal(p: Promise<unknown>): Promise<{ code: ErrorCode | undefined; message: string | undefined }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof GameError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a refusal');
}

const wallet = (w: { soft?: { toString(): string }; hard?: { toString(): string } }): WalletRow => ({
  soft: Number(w.soft?.toString()),
  hard: Number(w.hard?.toString()),
});

for (const kind of DB_KINDS)
  describe(`wallet operations in one statement on ${kind}`, () => {
    let testDb: TestDb | undefined;
    let db: CountingDb;
    const kv = new MemoryKv();
    let cluster: TestCluster | undefined;
    let a: TestUser;
    let b: TestUser;
    let admin: TestUser;
    const run = randomBytes(4).toString('hex');

    const count = async (sql: string, params: unknown[]): Promise<number> =>
      Number((await db.query<{ n: unknown }>(`SELECT count(*)::int AS n FROM ${sql}`, params)).rows[0]?.n);

    before(async () => {
      testDb = await openTestDb(kind, 'wallet_op');
      db = new CountingDb(testDb.db);
      kv.start();
      cluster = await startTestCluster({
        modules: [
          {
            module: anyModule(createPlayerModule({ receiptVerifier: new DevelopmentVerifier(DEVELOPMENT_CATALOG) })),
            count: 1,
          },
        ],
        deps: { db, kv },
      });
      [a, b] = [0, 1].map((i) => (cluster as TestCluster).user(`wop-${run}-${i}`)) as [TestUser, TestUser];
      admin = cluster.anonymous();
      for (const u of [a, b]) await admin.clients.player.createProfile(u.userId, u.userId);
    });

    after(async () => {
      await cluster?.stop();
      await kv.close();
      await testDb?.drop();
    });

    test('buy, spend and grant are one round trip each: the wallet function in autocommit', async () => {
      const p = a.clients.player;
      const one = [{ via: 'autocommit', sql: 'fn' }];
      const fnOnly = (): Array<{ via: string; sql: string }> =>
        db.take().map((t) => ({ via: t.via, sql: t.sql.includes(WALLET_APPLY_FUNCTION) ? 'fn' : t.sql }));
      db.take();
      await p.buyCurrency(
        new BuyRequest({ receiptId: devReceipt('coins_100', `${run}-rt`), currency: Currency.SOFT, amount: 1 }),
      );
      assert.deepEqual(fnOnly(), one, 'buyCurrency');
      await p.spendCurrency(
        new SpendRequest({ idempotencyKey: 'rt-spend', currency: Currency.SOFT, amount: 7, reason: 'shop' }),
      );
      assert.deepEqual(fnOnly(), one, 'spendCurrency');
      await admin.clients.player.grant(
        new GrantRequest({ idempotencyKey: 'rt-grant', userId: a.userId, soft: 5, hard: 2, reason: 'prize' }),
      );
      assert.deepEqual(fnOnly(), one, 'grant');
      // a replay and a refusal cost the same single statement
      await p.spendCurrency(
        new SpendRequest({ idempotencyKey: 'rt-spend', currency: Currency.SOFT, amount: 7, reason: 'shop' }),
      );
      assert.deepEqual(fnOnly(), one, 'a replayed spend');
      await refusal(
        p.spendCurrency(
          new SpendRequest({ idempotencyKey: 'rt-poor', currency: Currency.HARD, amount: 10_000, reason: 'shop' }),
        ),
      );
      assert.deepEqual(fnOnly(), one, 'a refused spend');
      const w = wallet(await p.getWallet());
      // 1000 starter + 100 bought - 7 spent + 5 granted; 20 starter + 2 granted
      assert.deepEqual(w, { soft: 1098, hard: 22 });
      // one ledger row per changed currency, with its source; the grant wrote both currencies
      const rows = await db.query<{ currency: string; delta: string; balance_after: string; source: string }>(
        `SELECT currency, delta::text AS delta, balance_after::text AS balance_after, source FROM player_ledger
          WHERE user_id = $1 AND idem_key <> 'starter' ORDER BY id`,
        [a.userId],
      );
      assert.deepEqual(rows.rows, [
        { currency: 'soft', delta: '100', balance_after: '1100', source: `purchase:development:${run}-rt` },
        { currency: 'soft', delta: '-7', balance_after: '1093', source: 'spend:shop' },
        { currency: 'soft', delta: '5', balance_after: '1098', source: 'grant:prize' },
        { currency: 'hard', delta: '2', balance_after: '22', source: 'grant:prize' },
      ]);
    });

    test('a replay answers the first wallet, a reused key with other parameters is CONFLICT, a refusal stays refused', async () => {
      const p = b.clients.player;
      const spend = (key: string, amount: number, currency = Currency.SOFT): Promise<unknown> =>
        p.spendCurrency(new SpendRequest({ idempotencyKey: key, currency, amount, reason: 'shop' }));
      const first = wallet((await spend('k1', 40)) as never);
      assert.deepEqual(first, { soft: 960, hard: 20 });
      await spend('k2', 1);
      assert.deepEqual(wallet((await spend('k1', 40)) as never), first, 'the first wallet, not the current one');
      assert.equal(await count("player_ledger WHERE user_id = $1 AND idem_key = 'c:k1'", [b.userId]), 1);
      assert.deepEqual(await refusal(spend('k1', 41)), {
        code: ErrorCode.CONFLICT,
        message: 'idempotency key was already used for a different request (spend)',
      });
      const poor = { code: ErrorCode.INSUFFICIENT_FUNDS, message: 'not enough hard: have 20, need 25' };
      assert.deepEqual(await refusal(spend('k3', 25, Currency.HARD)), poor);
      await admin.clients.player.grant(
        new GrantRequest({ idempotencyKey: 'rich', userId: b.userId, hard: 100, reason: 'prize' }),
      );
      assert.deepEqual(await refusal(spend('k3', 25, Currency.HARD)), poor, 'the same key answers the same refusal');
      assert.equal(await count("player_ledger WHERE user_id = $1 AND idem_key = 'c:k3'", [b.userId]), 0);
      // a store transaction redeemed by a, then presented by b: refused and recorded for b
      const receiptId = devReceipt('coins_100', `${run}-shared`);
      await a.clients.player.buyCurrency(new BuyRequest({ receiptId, currency: Currency.SOFT, amount: 1 }));
      const stolen = {
        code: ErrorCode.CONFLICT,
        message: 'this store transaction was already redeemed by another account',
      };
      const buy = (): Promise<unknown> =>
        p.buyCurrency(new BuyRequest({ receiptId, currency: Currency.SOFT, amount: 1 }));
      assert.deepEqual(await refusal(buy()), stolen);
      assert.deepEqual(await refusal(buy()), stolen);
      assert.equal(await count('player_purchases WHERE transaction_id = $1', [`${run}-shared`]), 1);
      assert.equal(await count('player_ledger WHERE user_id = $1 AND source LIKE $2', [b.userId, `%${run}-shared`]), 0);
      assert.equal(await count('player_idempotency WHERE key = $1', [`purchase:development:${run}-shared`]), 2);
    });

    test("keys recorded by the transaction path replay through the function, and the function's through it", async () => {
      const p = a.clients.player;
      const spec = (key: string) => ({
        userId: a.userId,
        key,
        op: 'spend',
        fingerprint: JSON.stringify(['soft', 3, 'shop']),
      });
      const viaTx = (key: string) =>
        once<WalletRow>(db, spec(key), async (q, pl) => {
          await applyDelta(q, pl, 'soft', -3, { reason: 'shop', key, source: 'spend:shop' });
          return walletOf(pl);
        });
      const old = await viaTx('c:mixed-1');
      assert.equal(old.applied, true);
      const replayed = wallet(
        await p.spendCurrency(
          new SpendRequest({ idempotencyKey: 'mixed-1', currency: Currency.SOFT, amount: 3, reason: 'shop' }),
        ),
      );
      assert.deepEqual(replayed, old.value);
      const fresh = wallet(
        await p.spendCurrency(
          new SpendRequest({ idempotencyKey: 'mixed-2', currency: Currency.SOFT, amount: 3, reason: 'shop' }),
        ),
      );
      const back = await viaTx('c:mixed-2');
      assert.deepEqual(back, { value: fresh, applied: false });
      assert.equal(await count("player_ledger WHERE user_id = $1 AND idem_key LIKE 'c:mixed-%'", [a.userId]), 2);
    });

    test('the migration can run again: the function is replaced, not duplicated', async () => {
      for (const m of walletMigrations) await db.query(m.sql);
      assert.equal(
        await count('pg_proc WHERE proname = $1 AND pronamespace = current_schema()::regnamespace', [
          WALLET_APPLY_FUNCTION,
        ]),
        1,
      );
    });
  });
