// Leaderboard service on a real cluster (Yellow + ZeroMQ) and real Redis (a unique key prefix per
// database kind): ranks, idempotent reports, rebuild after the Kv is emptied, and SQL answers when
// the Kv is dead. Every test runs on PGlite and on real Postgres (a throwaway schema).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { silentLogger } from '../../shared/log';
import type { Db } from '../../shared/data/sql';
import { RedisKv } from '../../shared/data/redis-kv';
import { migrate } from '../../shared/data/migrate';
import { ErrorCode, type RankEntry } from '../../shared/protocol';
import { leaderboardModule, Ranks } from '../../services/leaderboard';
import { leaderboardMigrations } from '../../services/leaderboard/migrations';
import { startTestCluster, type TestCluster } from '../support/cluster';
import { gameError, i64, num as n, untyped } from '../support/svc-lb-util';
import { DB_KINDS, openTestDb, type TestDb } from '../support/test-db';
import { TEST_REDIS_URL } from '../support/services';

const REDIS = TEST_REDIS_URL;
const run = randomBytes(4).toString('hex');

for (const kind of DB_KINDS)
  describe(`leaderboard on ${kind}`, () => {
    const prefix = `t-lb-${run}-${kind}:`;
    let testDb: TestDb | undefined;
    let db: Db;
    let kv: RedisKv;
    let cluster: TestCluster;

    const view = (es: RankEntry[]): string[] => es.map((e) => `${n(e.rank)}:${e.userId}:${e.username}:${n(e.score)}`);

    before(async () => {
      testDb = await openTestDb(kind, 'lb');
      db = testDb.db;
      kv = new RedisKv({ shards: [REDIS], keyPrefix: prefix, logger: silentLogger() });
      await kv.start();
      cluster = await startTestCluster({
        modules: [{ module: untyped(leaderboardModule), count: 2 }],
        deps: { db, kv },
      });
    });

    after(async () => {
      await cluster?.stop();
      await kv?.close();
      const raw = new Redis(REDIS);
      const keys = await raw.keys(`${prefix}*`);
      if (keys.length > 0) await raw.del(...keys);
      raw.disconnect();
      await testDb?.drop();
    });

    const svc = () => cluster.user('svc-duel').clients.leaderboard;

    test('top, myRank and around follow score order; ties order by user id descending', async () => {
      const scores: [string, number][] = [
        ['ann', 5],
        ['bob', 9],
        ['cat', 5],
        ['dan', 1],
        ['eve', 7],
      ];
      for (const [u, s] of scores) await svc().report('b1', u, `name-${u}`, i64(s), `seed:${u}`);
      assert.deepEqual(view(await svc().top('b1', 3)), ['1:bob:name-bob:9', '2:eve:name-eve:7', '3:cat:name-cat:5']);
      assert.deepEqual(view(await svc().top('b1', 1000)).length, 5, 'count is clamped, not refused');
      const mine = await cluster.user('ann').clients.leaderboard.myRank('b1');
      assert.equal(n(mine.rank), 4);
      assert.equal(n(mine.score), 5);
      assert.deepEqual(view(await cluster.user('cat').clients.leaderboard.around('b1', 1)), [
        '2:eve:name-eve:7',
        '3:cat:name-cat:5',
        '4:ann:name-ann:5',
      ]);
      assert.deepEqual(view(await cluster.user('bob').clients.leaderboard.around('b1', 2)), [
        '1:bob:name-bob:9',
        '2:eve:name-eve:7',
        '3:cat:name-cat:5',
      ]);
      const nobody = await cluster.user('zed').clients.leaderboard.myRank('b1');
      assert.equal(n(nobody.rank), 0, 'unranked users get rank 0');
      assert.deepEqual(await cluster.user('zed').clients.leaderboard.around('b1', 3), []);
      await assert.rejects(svc().top('bad board!', 3), gameError(ErrorCode.BAD_REQUEST, /board must be/));
    });

    test('a report is applied once per idempotency key, also when retried concurrently', async () => {
      const results = await Promise.all(
        Array.from({ length: 5 }, () => svc().report('b2', 'ann', 'Ann', i64(3), 'duel:x1')),
      );
      for (const r of results) assert.equal(n(r.score), 3);
      await svc().report('b2', 'ann', 'Ann', i64(4), 'duel:x2');
      await svc().report('b2', 'ann', 'Ann', i64(4), 'duel:x2');
      const top = await svc().top('b2', 10);
      assert.deepEqual(view(top), ['1:ann:Ann:7']);
      const sql = await db.query<{ score: string }>(
        "SELECT score::text AS score FROM scores WHERE board = 'b2' AND user_id = 'ann'",
      );
      assert.equal(sql.rows[0]?.score, '7');
      const keys = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM score_reports WHERE board = 'b2'");
      assert.equal(keys.rows[0]?.n, '2');
    });

    test('after the Kv is emptied, the board is rebuilt from Postgres', async () => {
      const before = view(await svc().top('b1', 10));
      const raw = new Redis(REDIS);
      const keys = await raw.keys(`${prefix}lb:*`);
      assert.ok(keys.length > 0);
      await raw.del(...keys);
      raw.disconnect();
      assert.equal(await kv.zcard('lb:{b1}'), 0);
      assert.deepEqual(view(await svc().top('b1', 10)), before);
      assert.equal(await kv.zcard('lb:{b1}'), 5, 'the sorted set was refilled');
      // a report into an emptied board rebuilds first, so the set holds every row, not just this one
      await kv.del('lb:{b2}');
      await svc().report('b2', 'bob', 'Bob', i64(1), 'duel:x3');
      assert.equal(await kv.zcard('lb:{b2}'), 2);
      assert.deepEqual(view(await svc().top('b2', 10)), ['1:ann:Ann:7', '2:bob:Bob:1']);
    });

    test('a report that joins a rebuild started before it committed is still on the board', async () => {
      // The interleaving of eight settlements arriving at once after an outage, made exact: A's
      // report finds the set empty and rebuilds it (its Postgres read done, its refill held); B's
      // report commits, finds the set empty too and joins that rebuild, which never read B.
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let refillReached!: () => void;
      const refilling = new Promise<void>((r) => (refillReached = r));
      let zcards = 0;
      let joined!: () => void;
      const bJoined = new Promise<void>((r) => (joined = r));
      const gated = new Proxy(kv, {
        get(target, prop, receiver) {
          if (prop === 'zaddMany')
            return async (...a: Parameters<RedisKv['zaddMany']>) => {
              refillReached();
              await held;
              return target.zaddMany(...a);
            };
          if (prop === 'zcard')
            return async (key: string) => {
              const n = await target.zcard(key);
              if (++zcards === 2) setImmediate(joined);
              return n;
            };
          const v = Reflect.get(target, prop, receiver) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
      const ranks = new Ranks(db, gated, silentLogger());
      const a = ranks.report('race', 'amy', 'Amy', 3, 'race:a');
      await refilling;
      const b = ranks.report('race', 'ben', 'Ben', 5, 'race:b');
      await bJoined;
      release();
      await Promise.all([a, b]);
      assert.equal((await ranks.rankOf('race', 'ben'))?.score, 5, 'the report that joined the rebuild is on the board');
      assert.deepEqual(
        (await ranks.top('race', 10)).map((r) => `${r.rank}:${r.userId}:${r.score}`),
        ['1:ben:5', '2:amy:3'],
      );
    });

    test('a dead Kv falls back to SQL ordering with the same answers', async () => {
      await migrate(db, 'leaderboard', leaderboardMigrations);
      const dead = new RedisKv({ shards: ['redis://127.0.0.1:1'], logger: silentLogger(), startTimeoutMs: 50 });
      await dead.start();
      try {
        const ranks = new Ranks(db, dead, silentLogger());
        const top = await ranks.top('b1', 10);
        assert.deepEqual(
          top.map((r) => `${r.rank}:${r.userId}:${r.score}`),
          ['1:bob:9', '2:eve:7', '3:cat:5', '4:ann:5', '5:dan:1'],
        );
        assert.equal((await ranks.rankOf('b1', 'cat'))?.rank, 3);
        assert.deepEqual(
          (await ranks.around('b1', 'ann', 1)).map((r) => r.userId),
          ['cat', 'ann', 'dan'],
        );
        const r = await ranks.report('b1', 'dan', 'name-dan', 10, 'dead:1');
        assert.equal(r.rank, 1, 'the report landed in Postgres although the Kv is down');
      } finally {
        await dead.close();
      }
    });
  });
