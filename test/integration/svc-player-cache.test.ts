/**
 * Profile reads are cache-aside through Redis, and a dead Redis degrades to SQL reads, never to
 * wrong data. Each suite starts its own redis-server on a free port, SIGKILLs it mid-test, and
 * later starts a fresh one on the same port. The SQL database holds the truth: every test runs on
 * PGlite and on real Postgres (throwaway schema), each with its own cluster.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { openKv } from '../../shared/data/store';
import type { Db } from '../../shared/data/sql';
import type { Kv } from '../../shared/data/kv';
import { silentLogger } from '../../shared/log';
import { Currency, SpendRequest } from '../../shared/protocol';
import { createPlayerModule } from '../../services/player/module';
import { startTestCluster, type TestCluster, type TestUser } from '../support/cluster';
import { startRedisServer, type RedisServer } from '../support/data-redis-servers';
import { anyModule } from '../support/svc-player-util';
import { DB_KINDS, openTestDb, type TestDb } from '../support/test-db';

for (const kind of DB_KINDS)
  describe(`player cache on ${kind}`, () => {
    let testDb: TestDb | undefined;
    let db: Db;
    let kv: Kv;
    let redis: RedisServer;
    let cluster: TestCluster;
    let user: TestUser;

    before(async () => {
      testDb = await openTestDb(kind, 'player_cache');
      db = testDb.db;
      redis = await startRedisServer();
      kv = await openKv({
        redis: [redis.url],
        logger: silentLogger(),
        tuning: { commandTimeoutMs: 200, connectTimeoutMs: 200, cooldownMs: 200 },
      });
      cluster = await startTestCluster({ modules: [{ module: anyModule(createPlayerModule()) }], deps: { db, kv } });
      user = cluster.user(`cache-user-${randomBytes(4).toString('hex')}`);
      await cluster.anonymous().clients.player.createProfile(user.userId, 'cachey');
    });

    after(async () => {
      await cluster?.stop();
      await kv?.close();
      await redis?.stop('SIGKILL');
      await testDb?.drop();
    });

    async function soft(): Promise<number> {
      return Number((await user.clients.player.getProfile()).wallet?.soft?.toString());
    }

    async function spend(key: string, amount: number): Promise<void> {
      await user.clients.player.spendCurrency(
        new SpendRequest({ idempotencyKey: key, currency: Currency.SOFT, amount, reason: 'test' }),
      );
    }

    async function cached(): Promise<string | null> {
      const c = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
      c.on('error', () => {});
      try {
        await c.connect();
        return await c.get(`cache:player:profile:${user.userId}`);
      } finally {
        c.disconnect();
      }
    }

    test('profile reads fill Redis, and a write invalidates the cached copy', async () => {
      assert.equal(await soft(), 1000);
      assert.match((await cached()) ?? '', /"soft":1000/);
      await spend('c1', 10);
      assert.equal(await cached(), null, 'the write dropped the cached profile');
      assert.equal(await soft(), 990);
      assert.match((await cached()) ?? '', /"soft":990/);
    });

    test('with Redis SIGKILLed, reads and writes still answer correctly from Postgres', async (t) => {
      await redis.stop('SIGKILL');
      const started = Date.now();
      assert.equal(await soft(), 990);
      t.diagnostic(`first read after the kill: ${Date.now() - started} ms`);
      await spend('c2', 40);
      // The invalidation could not reach Redis: reads must not serve the old 990.
      const reads = Date.now();
      for (let i = 0; i < 20; i++) assert.equal(await soft(), 950);
      t.diagnostic(`20 reads with Redis dead: ${Date.now() - reads} ms`);
      assert.equal(Number((await user.clients.player.getWallet()).soft?.toString()), 950);
      assert.equal((await user.clients.player.listUnits()).length, 3);
    });

    test('a fresh Redis on the same port is used again, still with correct values', async () => {
      redis = await startRedisServer(redis.port);
      // The breaker probes after its cooldown: wait (with a deadline) until a read refills Redis.
      const deadline = Date.now() + 10_000;
      let value: string | null = null;
      while (value === null && Date.now() < deadline) {
        assert.equal(await soft(), 950);
        value = await cached();
      }
      assert.match(value ?? '', /"soft":950/);
      await spend('c3', 50);
      assert.equal(await soft(), 900);
    });
  });
