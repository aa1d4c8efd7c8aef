/**
 * "No money from nowhere" as a query, on PGlite and on real Postgres: after purchases (App Store
 * and development), grants, rounds, spends and unit upgrades through the real player service,
 * every credit in player_ledger names a source of a known kind and every balance equals its
 * ledger sum (auditLedger, and the same checked again in plain SQL). The schema refuses a credit
 * without a known source. Migration 002_ledger_source backfills the rows written before it, and
 * the audit then reports exactly the purchases that were credited for receipts nobody verified.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryKv } from '../../shared/data/memory-kv';
import { migrate } from '../../shared/data/migrate';
import type { Db } from '../../shared/data/sql';
import {
  BuyRequest,
  Currency,
  ErrorCode,
  GameError,
  GrantRequest,
  RoundRequest,
  SpendRequest,
  UnitRequest,
} from '../../shared/protocol';
import { auditLedger, CREDIT_SOURCE_PATTERN } from '../../services/player/ledger';
import { playerMigrations } from '../../services/player/migrations';
import { createPlayerModule } from '../../services/player/module';
import { startTestCluster, type TestCluster, type TestUser } from '../support/cluster';
import { anyModule } from '../support/svc-player-util';
import { DB_KINDS, openTestDb, type TestDb } from '../support/test-db';
import { makeChain, signTransaction, TEST_BUNDLE_ID, transaction } from '../support/appstore-ca';

const CATALOG = { gems_100: { currency: 'hard', amount: 100 }, coins_2500: { currency: 'soft', amount: 2500 } };

async function refusedCode(p: Promise<unknown>): Promise<ErrorCode | undefined> {
  try {
    await p;
  } catch (err) {
    if (err instanceof GameError) return err.code;
    throw err;
  }
  return undefined;
}

for (const kind of DB_KINDS)
  describe(`the ledger's sources on ${kind}`, () => {
    let testDb: TestDb | undefined;
    let db: Db;
    const kv = new MemoryKv();
    let cluster: TestCluster;
    let dir: string;
    let users: TestUser[];
    const run = randomBytes(4).toString('hex');

    before(async () => {
      testDb = await openTestDb(kind, 'player_ledger');
      db = testDb.db;
      kv.start();
      dir = mkdtempSync(join(tmpdir(), 'noon-ledger-'));
      const chain = makeChain();
      writeFileSync(join(dir, 'root.pem'), chain.root.pem);
      cluster = await startTestCluster({
        modules: [{ module: anyModule(createPlayerModule()), count: 2 }],
        deps: { db, kv },
        config: {
          purchaseVerifier: 'appstore,development',
          purchaseCatalog: JSON.stringify(CATALOG),
          appstoreBundleId: TEST_BUNDLE_ID,
          appstoreRootCert: join(dir, 'root.pem'),
        },
      });
      users = [0, 1, 2].map((i) => cluster.user(`ledger-${run}-${i}`));
      const admin = cluster.anonymous();
      for (const u of users) await admin.clients.player.createProfile(u.userId, u.userId);
      // the money a game moves: purchases, grants, rounds, spends, unit upgrades, and refusals
      for (const [i, u] of users.entries()) {
        const p = u.clients.player;
        await p.buyCurrency(
          new BuyRequest({ receiptId: `dev:coins_2500:${run}-${i}`, currency: Currency.SOFT, amount: 1 }),
        );
        await p.buyCurrency(
          new BuyRequest({ receiptId: signTransaction(chain, transaction()), currency: Currency.HARD, amount: 1 }),
        );
        await admin.clients.player.grant(
          new GrantRequest({ idempotencyKey: `prize-${i}`, userId: u.userId, soft: 75, hard: 3, reason: 'duel-prize' }),
        );
        for (let r = 0; r < 6; r++) await p.playRound(new RoundRequest({ idempotencyKey: `round-${r}`, stage: 1 }));
        await p.spendCurrency(
          new SpendRequest({ idempotencyKey: 'shop-1', currency: Currency.SOFT, amount: 300, reason: 'shop' }),
        );
        const [unit] = await p.listUnits();
        await p.levelUp(new UnitRequest({ idempotencyKey: 'lvl-1', unitId: unit?.unitId ?? '' }));
        assert.equal(
          await refusedCode(
            p.spendCurrency(
              new SpendRequest({
                idempotencyKey: 'too-much',
                currency: Currency.HARD,
                amount: 1_000_000,
                reason: 'shop',
              }),
            ),
          ),
          ErrorCode.INSUFFICIENT_FUNDS,
        );
        assert.equal(
          await refusedCode(
            p.buyCurrency(new BuyRequest({ receiptId: `free-money-${i}`, currency: Currency.HARD, amount: 999 })),
          ),
          ErrorCode.BAD_REQUEST,
        );
      }
    });

    after(async () => {
      await cluster?.stop();
      await kv.close();
      await testDb?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('every credit has a source of a known kind, and every balance equals its ledger sum', async () => {
      assert.deepEqual(await auditLedger(db), { unsourcedCredits: [], mismatchedBalances: [] });
      // the same, in plain SQL over these players
      const ids = users.map((u) => u.userId);
      const rows = await db.query<{ source: string; currency: string; delta: string }>(
        'SELECT source, currency, delta::text AS delta FROM player_ledger WHERE user_id = ANY($1) ORDER BY id',
        [ids],
      );
      const credits = rows.rows.filter((r) => Number(r.delta) > 0);
      assert.ok(credits.length >= 5 * users.length, `${credits.length} credits`);
      for (const r of rows.rows) assert.ok(r.source.length > 0, `a source on every row: ${JSON.stringify(r)}`);
      for (const r of credits) assert.match(r.source, new RegExp(CREDIT_SOURCE_PATTERN), JSON.stringify(r));
      const kinds = new Set(
        rows.rows.map((r) =>
          r.source
            .split(':')
            .slice(0, r.source.startsWith('purchase:') ? 2 : 1)
            .join(':'),
        ),
      );
      for (const k of ['initial', 'purchase:development', 'purchase:appstore', 'grant', 'spend', 'unit'])
        assert.ok(kinds.has(k), `a ${k} row among ${[...kinds].join(', ')}`);
      assert.ok(rows.rows.some((r) => r.source === 'grant:duel-prize' && r.currency === 'hard' && r.delta === '3'));
      assert.ok(rows.rows.some((r) => r.source === 'spend:shop' && r.delta === '-300'));
      const unsourced = await db.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM player_ledger WHERE user_id = ANY($1) AND delta > 0 AND (source = '' OR source !~ $2)`,
        [ids, CREDIT_SOURCE_PATTERN],
      );
      assert.equal(unsourced.rows[0]?.n, '0');
      const mismatched = await db.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM players p WHERE p.user_id = ANY($1) AND (
           p.soft <> COALESCE((SELECT sum(delta) FROM player_ledger l WHERE l.user_id = p.user_id AND currency = 'soft'), 0)
        OR p.hard <> COALESCE((SELECT sum(delta) FROM player_ledger l WHERE l.user_id = p.user_id AND currency = 'hard'), 0))`,
        [ids],
      );
      assert.equal(mismatched.rows[0]?.n, '0');
    });

    test('the schema refuses a credit whose source is missing, empty or of no known kind', async () => {
      const u = users[0]?.userId ?? '';
      const insert = (source: string | null, delta: number): Promise<unknown> =>
        db.query(
          `INSERT INTO player_ledger (user_id, currency, delta, balance_after, reason, idem_key, source)
           VALUES ($1, 'soft', $2, 1000000, 'test', $3, $4)`,
          [u, delta, `raw-${randomBytes(4).toString('hex')}`, source],
        );
      await assert.rejects(insert(null, 10), /null value|not-null/i);
      await assert.rejects(insert('', -10), /player_ledger_source_named/);
      await assert.rejects(insert('gift', 10), /player_ledger_credit_source/);
      await assert.rejects(insert('purchase:itunes:1', 10), /player_ledger_credit_source/);
      await assert.rejects(insert('spend:shop', 10), /player_ledger_credit_source/);
      assert.deepEqual((await auditLedger(db)).unsourcedCredits, []);
    });

    test('002_ledger_source backfills older rows; the audit then names the unverified purchases', async () => {
      const old = await openTestDb(kind, 'player_ledger_old');
      try {
        await migrate(old.db, 'player', playerMigrations.slice(0, 1));
        // what the code before 002 wrote for: a starter wallet, a purchase of an invented receipt
        // id, a duel prize, a round, a spend and a level-up
        await old.db.query(`INSERT INTO players (user_id, username, soft, hard) VALUES ('old', 'old', 1370, 520)`);
        await old.db.query(`INSERT INTO player_receipts (receipt_id, user_id) VALUES ('r-anything', 'old')`);
        const rows: Array<[string, number, number, string, string]> = [
          ['soft', 1000, 1000, 'starter', 'starter'],
          ['hard', 20, 20, 'starter', 'starter'],
          ['hard', 500, 520, 'purchase', 'receipt:r-anything'],
          ['soft', 400, 1400, 'duel', 'g:duel-1:win'],
          ['soft', 30, 1430, 'round', 'c:r1'],
          ['soft', -50, 1380, 'shop', 'c:s1'],
          ['soft', -10, 1370, 'levelUp', 'c:l1'],
        ];
        for (const [currency, delta, after, reason, key] of rows)
          await old.db.query(
            `INSERT INTO player_ledger (user_id, currency, delta, balance_after, reason, idem_key) VALUES ('old', $1, $2, $3, $4, $5)`,
            [currency, delta, after, reason, key],
          );
        assert.ok((await migrate(old.db, 'player', playerMigrations)) >= 1);
        const sources = await old.db.query<{ source: string }>('SELECT source FROM player_ledger ORDER BY id');
        assert.deepEqual(
          sources.rows.map((r) => r.source),
          [
            'initial',
            'initial',
            'legacy:purchase:receipt:r-anything',
            'grant:duel',
            'round:c:r1',
            'spend:shop',
            'legacy:unit:levelUp:c:l1',
          ],
        );
        const audit = await auditLedger(old.db);
        assert.deepEqual(
          audit.unsourcedCredits.map((c) => [c.userId, c.currency, c.delta, c.source]),
          [['old', 'hard', '500', 'legacy:purchase:receipt:r-anything']],
        );
        assert.deepEqual(audit.mismatchedBalances, []);
      } finally {
        await old.drop();
      }
    });
  });
