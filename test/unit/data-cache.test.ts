// Cache-aside behaviour over MemoryKv, with a switch that makes every Kv call fail like a dead
// shard; and the circuit breaker's state machine on an injected clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../shared/log';
import { NoonError } from '../../shared/errors';
import { Cache, jsonCodec } from '../../shared/data/cache';
import { CircuitBreaker } from '../../shared/data/breaker';
import type { Kv } from '../../shared/data/kv';
import { MemoryKv } from '../../shared/data/memory-kv';

/** A Kv whose every call rejects UNAVAILABLE while `down` is set. */
function flaky(inner: Kv): { kv: Kv; setDown(v: boolean): void } {
  let down = false;
  const kv = new Proxy(inner, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]): unknown =>
        down
          ? Promise.reject(new NoonError('UNAVAILABLE', 'shard down'))
          : (v as (...a: unknown[]) => unknown).apply(target, args);
    },
  });
  return { kv, setDown: (d) => (down = d) };
}

function counter<T>(value: () => T): { load: () => Promise<T>; calls: () => number } {
  let n = 0;
  return { load: async () => (n++, value()), calls: () => n };
}

test('miss loads and fills, hit does not load', async () => {
  const cache = new Cache(new MemoryKv(), { ttlMs: 60_000, logger: silentLogger() });
  const c = counter(() => ({ gold: 5 }));
  assert.deepEqual(await cache.getOrLoad('p:1', c.load), { gold: 5 });
  assert.deepEqual(await cache.getOrLoad('p:1', c.load), { gold: 5 });
  assert.equal(c.calls(), 1);
  assert.deepEqual(cache.stats(), { hits: 1, misses: 1, kvErrors: 0 });
});

test('a value of another codec version or envelope is a miss', async () => {
  const mem = new MemoryKv();
  const cache = new Cache(mem, { ttlMs: 60_000, logger: silentLogger() });
  await cache.put('p:1', { gold: 1 }, jsonCodec('1'));
  const c = counter(() => ({ gold: 2, gems: 0 }));
  assert.deepEqual(await cache.getOrLoad('p:1', c.load, jsonCodec('2')), { gold: 2, gems: 0 });
  await mem.set('cache:p:2', '{"gold":3}');
  assert.deepEqual(await cache.getOrLoad('p:2', c.load, jsonCodec('2')), { gold: 2, gems: 0 });
  assert.equal(c.calls(), 2);
});

test('a dead Kv degrades to the loader: right values, no errors', async () => {
  const { kv, setDown } = flaky(new MemoryKv());
  const cache = new Cache(kv, { ttlMs: 60_000, logger: silentLogger() });
  await cache.put('p:1', 'cached');
  setDown(true);
  assert.equal(await cache.getOrLoad('p:1', async () => 'from-db'), 'from-db');
  assert.equal(await cache.put('p:1', 'x'), false);
  assert.ok(cache.stats().kvErrors >= 2);
});

test('a failed invalidation is remembered: reads bypass the stale copy until the delete lands', async () => {
  const { kv, setDown } = flaky(new MemoryKv());
  const cache = new Cache(kv, { ttlMs: 60_000, logger: silentLogger() });
  await cache.put('p:1', 'old');
  setDown(true);
  assert.equal(await cache.invalidate('p:1'), false); // the write went to Postgres; the Kv copy is stale
  setDown(false);
  assert.equal(await cache.getOrLoad('p:1', async () => 'new'), 'new', 'the stale "old" is never served');
  assert.equal(await cache.getOrLoad('p:1', async () => 'unused'), 'new', 'after the retried delete, caching resumes');
});

test('concurrent reads of one key share one load; a load racing an invalidation is not cached', async () => {
  const cache = new Cache(new MemoryKv(), { ttlMs: 60_000, logger: silentLogger() });
  let release: (v: string) => void = () => {};
  let loads = 0;
  const slow = (): Promise<string> => (loads++, new Promise<string>((r) => (release = r)));
  const a = cache.getOrLoad('p:1', slow);
  const b = cache.getOrLoad('p:1', slow);
  await new Promise((r) => setImmediate(r));
  assert.equal(loads, 1);
  await cache.invalidate('p:1'); // a write committed while the (older) load was running
  release('before-write');
  assert.deepEqual(await Promise.all([a, b]), ['before-write', 'before-write']);
  assert.equal(
    await cache.getOrLoad('p:1', async () => 'after-write'),
    'after-write',
    'the racing result was not cached',
  );
});

test('breaker: opens on failure, rejects during cooldown, one probe, closes on success', () => {
  let now = 0;
  const changes: string[] = [];
  const b = new CircuitBreaker({ cooldownMs: 100, now: () => now, onChange: (f, t) => changes.push(`${f}>${t}`) });
  assert.equal(b.allow(), true);
  b.failure();
  assert.equal(b.allow(), false);
  now = 99;
  assert.equal(b.allow(), false);
  now = 100;
  assert.equal(b.allow(), true, 'the probe');
  assert.equal(b.allow(), false, 'only one probe at a time');
  b.failure();
  now = 150;
  assert.equal(b.allow(), false);
  now = 200;
  assert.equal(b.allow(), true);
  b.success();
  assert.equal(b.allow(), true);
  assert.deepEqual(changes, ['closed>open', 'open>half-open', 'half-open>open', 'open>half-open', 'half-open>closed']);
  assert.equal(b.rejected, 4);
});
