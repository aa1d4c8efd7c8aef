// Sharded Redis against real redis-server processes: placement, resharding cost, and a shard
// SIGKILLed under the cache (reads must stay right, error-free and fast).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { silentLogger } from '../../shared/log';
import { isNoonError } from '../../shared/errors';
import { RedisKv } from '../../shared/data/redis-kv';
import { Cache } from '../../shared/data/cache';
import { startRedisServer, type RedisServer } from '../support/data-redis-servers';
import { until } from '../support/wait';

const N_KEYS = 2000;
const KEYS = Array.from({ length: N_KEYS }, (_, i) => `key:${i}`);

const servers: RedisServer[] = [];
const clients: RedisKv[] = [];

function openKv(urls: string[], keyPrefix: string): RedisKv {
  const kv = new RedisKv({ shards: urls, keyPrefix, logger: silentLogger(), cooldownMs: 500 });
  clients.push(kv);
  return kv;
}

/** Which server (by port) actually holds each key, asked of the servers themselves. */
async function locate(prefix: string): Promise<Map<string, number>> {
  const where = new Map<string, number>();
  for (const s of servers) {
    const c = new Redis(s.port, '127.0.0.1');
    c.on('error', () => {});
    try {
      for (const k of await c.keys(`${prefix}*`)) where.set(k.slice(prefix.length), s.port);
    } finally {
      c.disconnect();
    }
  }
  return where;
}

async function writeAll(kv: RedisKv): Promise<void> {
  await kv.start();
  await Promise.all(KEYS.map((k) => kv.set(k, `v-${k}`)));
}

before(async () => {
  for (let i = 0; i < 3; i++) servers.push(await startRedisServer());
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
});

test('keys spread over all three shards', async () => {
  await writeAll(
    openKv(
      servers.map((s) => s.url),
      'p3:',
    ),
  );
  const where = await locate('p3:');
  assert.equal(where.size, N_KEYS, 'every key is on exactly one server');
  for (const s of servers) {
    const share = [...where.values()].filter((p) => p === s.port).length / N_KEYS;
    assert.ok(share > 0.2 && share < 0.47, `server ${s.port} holds ${(share * 100).toFixed(1)}%`);
  }
});

test('adding a fourth shard moves about a quarter of the keys, all to the new one', async () => {
  servers.push(await startRedisServer());
  await writeAll(
    openKv(
      servers.map((s) => s.url),
      'p4:',
    ),
  );
  const before3 = await locate('p3:');
  const after4 = await locate('p4:');
  assert.equal(after4.size, N_KEYS);
  let moved = 0;
  for (const k of KEYS) {
    if (before3.get(k) === after4.get(k)) continue;
    moved++;
    assert.equal(after4.get(k), servers[3]!.port, `${k} moved between old shards`);
  }
  const frac = moved / N_KEYS;
  console.log(`# moved fraction after adding a 4th shard: ${(frac * 100).toFixed(1)}% (${moved}/${N_KEYS})`);
  assert.ok(frac >= 0.15 && frac <= 0.35, `moved ${(frac * 100).toFixed(1)}%`);
});

test('SIGKILL one shard: cache reads stay right, error-free and fast; the shard recovers', async () => {
  const urls = servers.slice(0, 3).map((s) => s.url);
  const kv = openKv(urls, 'c:');
  await kv.start();
  const cache = new Cache(kv, { ttlMs: 60_000, logger: silentLogger() });
  const sample = KEYS.slice(0, 300);
  const truth = (k: string): string => `db-${k}`;
  // The cache stores under its namespace; that full key is what the ring places.
  const shardOf = (k: string): string => kv.shardFor(`cache:${k}`);
  for (const k of sample) await cache.put(k, truth(k));

  const victim = servers[1]!;
  const victimId = urls[1]!.replace(/\/?$/, '/0');
  assert.ok(
    sample.some((k) => shardOf(k) === victimId),
    'the sample has keys on the victim',
  );
  await victim.stop('SIGKILL');

  let loads = 0;
  let errors = 0;
  let slowest = 0;
  const started = Date.now();
  for (let round = 0; round < 3; round++) {
    for (const k of sample) {
      const t0 = Date.now();
      try {
        const v = await cache.getOrLoad(k, async () => {
          loads++;
          return truth(k);
        });
        assert.equal(v, truth(k));
      } catch {
        errors++;
      }
      slowest = Math.max(slowest, Date.now() - t0);
    }
  }
  const total = Date.now() - started;
  const onVictim = sample.filter((k) => shardOf(k) === victimId).length;
  console.log(
    `# after SIGKILL: ${3 * sample.length} reads in ${total} ms, slowest ${slowest} ms, ${loads} loads (${onVictim} keys on the dead shard)`,
  );
  assert.equal(errors, 0);
  assert.ok(onVictim > 0 && onVictim < sample.length, 'the sample spans the dead shard and the live ones');
  assert.equal(loads, 3 * onVictim, "only the dead shard's keys fell back to the loader");
  assert.ok(slowest < 1000, `slowest read took ${slowest} ms`);
  assert.ok(total < 5000, `900 reads took ${total} ms`);

  const deadKey = sample.find((k) => shardOf(k) === victimId)!;
  await assert.rejects(
    kv.get(`cache:${deadKey}`),
    (e: unknown) => isNoonError(e, 'UNAVAILABLE') && e.message.includes(victimId),
  );

  // Same port again, empty (no persistence): the breaker lets a probe through and closes.
  servers[1] = await startRedisServer(victim.port);
  await until(
    'the restarted shard to serve again',
    async () => {
      try {
        await kv.get(`cache:${deadKey}`);
        return true;
      } catch {
        return false;
      }
    },
    15_000,
    50,
  );
  assert.equal(kv.health()[victimId], 'closed');
  await kv.set(`cache:${deadKey}`, 'a value in some older format');
  assert.equal(
    await cache.getOrLoad(deadKey, async () => truth(deadKey)),
    truth(deadKey),
    'a foreign-format value is a miss',
  );
  assert.equal(await cache.getOrLoad(deadKey, async () => 'not called'), truth(deadKey), 'and the reload was cached');
});

test('a hung shard (SIGSTOP) costs one command timeout, then fails fast until it answers again', async () => {
  const urls = servers.slice(0, 3).map((s) => s.url);
  const kv = openKv(urls, 'h:');
  await kv.start();
  const hung = servers[2]!;
  const hungId = `${hung.url}/0`;
  const keys = KEYS.filter((k) => kv.shardFor(k) === hungId).slice(0, 50);
  const live = KEYS.find((k) => kv.shardFor(k) !== hungId)!;
  hung.signal('SIGSTOP');
  try {
    const timings: number[] = [];
    for (const k of keys) {
      const t0 = Date.now();
      await assert.rejects(kv.get(k), (e: unknown) => isNoonError(e, 'UNAVAILABLE'));
      timings.push(Date.now() - t0);
    }
    console.log(
      `# hung shard: first call ${timings[0]} ms, slowest of the next ${keys.length - 1}: ${Math.max(...timings.slice(1))} ms`,
    );
    assert.ok(timings[0]! >= 400 && timings[0]! < 1500, `first call took ${timings[0]} ms (command timeout 500)`);
    assert.ok(
      timings.slice(1).every((t) => t < 50),
      'the open breaker rejects at once',
    );
    await kv.set(live, 'ok');
    assert.equal(await kv.get(live), 'ok', 'other shards are unaffected');
  } finally {
    hung.signal('SIGCONT');
  }
  await until(
    'the resumed shard to answer',
    async () => {
      try {
        await kv.get(keys[0]!);
        return true;
      } catch {
        return false;
      }
    },
    15_000,
    50,
  );
});
