/**
 * Units, rounds and grants through the real player service over ZeroMQ, on PGlite and on real
 * Postgres (throwaway schema), each with its own cluster: rules enforced, each key applied once,
 * balances equal to their ledger.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MemoryKv } from '../../shared/data/memory-kv';
import type { Db } from '../../shared/data/sql';
import {
  BuyRequest,
  Currency,
  ErrorCode,
  GameError,
  GrantRequest,
  RoundRequest,
  UnitRequest,
  type Unit,
} from '../../shared/protocol';
import { createPlayerModule } from '../../services/player/module';
import { devReceipt, DevelopmentVerifier, parseCatalog } from '../../services/player/receipts';
import { levelForXp } from '../../services/player/rules';
import { startTestCluster, type TestCluster, type TestUser } from '../support/cluster';
import { anyModule } from '../support/svc-player-util';
import { DB_KINDS, openTestDb, type TestDb } from '../support/test-db';

/** One development product worth enough soft to level units up. */
const RICH = new DevelopmentVerifier(parseCatalog({ coins_20000: { currency: 'soft', amount: 20_000 } }));

for (const kind of DB_KINDS)
  describe(`player game on ${kind}`, () => {
    let testDb: TestDb | undefined;
    let db: Db;
    const kv = new MemoryKv();
    let cluster: TestCluster;
    let user: TestUser;

    before(async () => {
      testDb = await openTestDb(kind, 'player_game');
      db = testDb.db;
      kv.start();
      cluster = await startTestCluster({
        modules: [{ module: anyModule(createPlayerModule({ receiptVerifier: RICH })), count: 2 }],
        deps: { db, kv },
      });
      user = cluster.user(`game-${randomBytes(4).toString('hex')}`);
      await cluster.anonymous().clients.player.createProfile(user.userId, 'gamer');
      await user.clients.player.buyCurrency(
        new BuyRequest({ receiptId: devReceipt('coins_20000', user.userId), currency: Currency.SOFT, amount: 20_000 }),
      );
    });

    after(async () => {
      await cluster?.stop();
      await kv.close();
      await testDb?.drop();
    });

    async function code(p: Promise<unknown>): Promise<ErrorCode | undefined> {
      try {
        await p;
      } catch (err) {
        if (err instanceof GameError) return err.code;
        throw err;
      }
      return undefined;
    }

    const wallet = async (): Promise<{ soft: number; hard: number }> => {
      const w = await user.clients.player.getWallet();
      return { soft: Number(w.soft?.toString()), hard: Number(w.hard?.toString()) };
    };
    const levelUp = (key: string, unitId: string): Promise<Unit> =>
      user.clients.player.levelUp(new UnitRequest({ idempotencyKey: key, unitId }));
    const evolve = (key: string, unitId: string): Promise<Unit> =>
      user.clients.player.evolve(new UnitRequest({ idempotencyKey: key, unitId }));

    test('calls for "the caller" need a logged-in caller', async () => {
      assert.equal(await code(cluster.anonymous().clients.player.getProfile()), ErrorCode.UNAUTHENTICATED);
      assert.equal(await code(cluster.user('nobody-here').clients.player.getProfile()), ErrorCode.NOT_FOUND);
    });

    test('levelUp pays 100 x level, once per key, up to the star cap; evolve raises the cap', async () => {
      const units = await user.clients.player.listUnits();
      assert.deepEqual(
        units.map((u) => [u.kind, u.level, u.stars]),
        [
          ['gunslinger', 1, 1],
          ['sheriff', 1, 1],
          ['outlaw', 1, 1],
        ],
      );
      const id = units[0]?.unitId ?? '';
      const before = await wallet();
      for (let l = 1; l < 10; l++) assert.equal((await levelUp(`lu-${l}`, id)).level, l + 1);
      assert.equal((await levelUp('lu-3', id)).level, 4, 'a retried key answers its first result');
      assert.equal((await wallet()).soft, before.soft - 100 * (1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9));
      assert.equal(await code(levelUp('lu-10', id)), ErrorCode.CONFLICT, 'level cap 10 at 1 star');
      assert.equal(await code(levelUp('lu-10', id)), ErrorCode.CONFLICT, 'the refusal is replayed');
      assert.equal(await code(evolve('lu-1', id)), ErrorCode.CONFLICT, 'a levelUp key reused for evolve');
      assert.equal(await code(levelUp('lu-x', 'no-such-unit')), ErrorCode.NOT_FOUND);

      const mid = await wallet();
      const evolved = await evolve('ev-1', id);
      assert.deepEqual([evolved.level, evolved.stars], [10, 2]);
      assert.deepEqual(await wallet(), { soft: mid.soft - 500, hard: mid.hard - 10 });
      assert.equal(await code(evolve('ev-2', id)), ErrorCode.CONFLICT, 'needs level 20 for the next star');
      assert.equal((await levelUp('lu-11', id)).level, 11);
      const listed = (await user.clients.player.listUnits()).find((u) => u.unitId === id);
      assert.deepEqual([listed?.level, listed?.stars], [11, 2], 'the cached unit list was invalidated');
    });

    test('a unit change without the funds is refused and changes nothing', async () => {
      const poor = cluster.user(`poor-${randomBytes(4).toString('hex')}`);
      await cluster.anonymous().clients.player.createProfile(poor.userId, 'poor');
      const id = (await poor.clients.player.listUnits())[1]?.unitId ?? '';
      // 1000 starter soft: levels 1..4 cost 100+200+300+400 = 1000, level 5 costs 500 more
      for (let l = 1; l <= 4; l++)
        await poor.clients.player.levelUp(new UnitRequest({ idempotencyKey: `p${l}`, unitId: id }));
      assert.equal(
        await code(poor.clients.player.levelUp(new UnitRequest({ idempotencyKey: 'p5', unitId: id }))),
        ErrorCode.INSUFFICIENT_FUNDS,
      );
      const unit = (await poor.clients.player.listUnits()).find((u) => u.unitId === id);
      assert.equal(unit?.level, 5);
      assert.equal(Number((await poor.clients.player.getWallet()).soft?.toString()), 0);
    });

    test('playRound: the same key gives the same result once; xp levels the player up', async () => {
      const first = await user.clients.player.playRound(new RoundRequest({ idempotencyKey: 'round-0', stage: 1 }));
      const again = await user.clients.player.playRound(new RoundRequest({ idempotencyKey: 'round-0', stage: 1 }));
      assert.deepEqual(again, first);
      assert.equal(
        await code(user.clients.player.playRound(new RoundRequest({ idempotencyKey: 'round-0', stage: 2 }))),
        ErrorCode.CONFLICT,
      );
      assert.equal(
        await code(user.clients.player.playRound(new RoundRequest({ idempotencyKey: 'round-bad', stage: 0 }))),
        ErrorCode.BAD_REQUEST,
      );
      let xp = Number(first.profile?.xp?.toString());
      for (let i = 1; xp < 300; i++) {
        const r = await user.clients.player.playRound(new RoundRequest({ idempotencyKey: `round-${i}`, stage: 1 }));
        xp += Number(r.xpGained?.toString());
        assert.equal(Number(r.profile?.xp?.toString()), xp);
        assert.equal(r.profile?.level, levelForXp(xp));
      }
      assert.ok(((await user.clients.player.getProfile()).level ?? 0) >= 3);
    });

    test('grant is applied once per key and pushes nothing to the caller', async () => {
      const admin = cluster.anonymous();
      const before = await wallet();
      const pushes = cluster.pushes.length;
      const g = new GrantRequest({
        idempotencyKey: `duel:${user.userId}`,
        userId: user.userId,
        soft: 300,
        hard: 2,
        reason: 'duel prize',
      });
      await admin.clients.player.grant(g);
      await admin.clients.player.grant(g);
      assert.deepEqual(await wallet(), { soft: before.soft + 300, hard: before.hard + 2 });
      assert.equal(cluster.pushes.length, pushes);
      assert.equal(
        await code(admin.clients.player.grant(new GrantRequest({ idempotencyKey: 'x', userId: 'ghost', soft: 1 }))),
        ErrorCode.NOT_FOUND,
      );
      assert.equal(
        await code(admin.clients.player.grant(new GrantRequest({ idempotencyKey: 'y', userId: user.userId }))),
        ErrorCode.BAD_REQUEST,
      );
    });

    test('every balance equals the sum of its ledger', async () => {
      const r = await db.query<{ bad: string }>(`SELECT count(*)::text AS bad FROM players p WHERE
        p.soft <> COALESCE((SELECT sum(delta) FROM player_ledger l WHERE l.user_id = p.user_id AND currency = 'soft'), 0)
     OR p.hard <> COALESCE((SELECT sum(delta) FROM player_ledger l WHERE l.user_id = p.user_id AND currency = 'hard'), 0)`);
      assert.equal(r.rows[0]?.bad, '0');
    });
  });
