// One conformance body for the Kv interface: every implementation (MemoryKv, RedisKv on shards,
// RedisKv on a Redis Cluster) must pass the same tests.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isNoonError } from '../../shared/errors';
import type { Kv } from '../../shared/data/kv';
import { until } from './wait';

export function rejectsWith(code: string, re: RegExp): (err: unknown) => boolean {
  return (err) => isNoonError(err) && err.code === code && re.test(err.message);
}

export function conformance(label: string, open: () => Promise<Kv>, cleanup: () => Promise<void>): void {
  describe(`Kv conformance: ${label}`, () => {
    let kv: Kv;
    before(async () => {
      kv = await open();
    });
    after(async () => {
      await kv.close();
      await cleanup();
    });

    test('strings: set, get, overwrite, del, setIfAbsent', async () => {
      assert.equal(await kv.get('s:a'), null);
      await kv.set('s:a', '1');
      await kv.set('s:a', '2');
      assert.equal(await kv.get('s:a'), '2');
      assert.equal(await kv.setIfAbsent('s:a', '3'), false);
      assert.equal(await kv.get('s:a'), '2');
      assert.equal(await kv.setIfAbsent('s:b', 'x', 60_000), true);
      assert.equal(await kv.del('s:a'), true);
      assert.equal(await kv.del('s:a'), false);
      assert.equal(await kv.get('s:a'), null);
    });

    test('TTLs: expire after ttlMs; a plain set clears the TTL; expire on a missing key is false', async () => {
      await kv.set('t:keep', 'v', 40);
      await kv.set('t:keep', 'v2'); // no TTL any more
      await kv.set('t:gone', 'v', 40);
      assert.equal(await kv.setIfAbsent('t:nx', 'v', 40), true);
      await until('t:gone to expire', async () => (await kv.get('t:gone')) === null);
      await until('t:nx to expire', async () => (await kv.get('t:nx')) === null);
      assert.equal(await kv.get('t:keep'), 'v2');
      assert.equal(await kv.expire('t:missing', 1000), false);
      assert.equal(await kv.expire('t:keep', 30), true);
      await until('t:keep to expire', async () => (await kv.get('t:keep')) === null);
      await assert.rejects(kv.set('t:x', 'v', 0), rejectsWith('INTERNAL', /ttlMs/));
    });

    test('incr counts from 0 and keeps the TTL; a non-integer rejects', async () => {
      assert.equal(await kv.incr('n:a'), 1);
      assert.equal(await kv.incr('n:a'), 2);
      await kv.set('n:s', 'abc');
      await assert.rejects(kv.incr('n:s'), rejectsWith('INTERNAL', /not an integer/));
      await kv.set('n:t', '5', 40);
      assert.equal(await kv.incr('n:t'), 6);
      await until('n:t to expire', async () => (await kv.get('n:t')) === null);
    });

    test('hashes: hset/hget/hdel/hgetall, null prototype, empty hash disappears', async () => {
      await kv.hset('h:a', 'x', '1');
      await kv.hset('h:a', '__proto__', 'p');
      await kv.hset('h:a', 'x', '2');
      assert.equal(await kv.hget('h:a', 'x'), '2');
      assert.equal(await kv.hget('h:a', 'y'), null);
      const all = await kv.hgetall('h:a');
      assert.equal(Object.getPrototypeOf(all), null);
      assert.deepEqual(Object.entries(all).sort(), [
        ['__proto__', 'p'],
        ['x', '2'],
      ]);
      assert.equal(await kv.hdel('h:a', 'x'), true);
      assert.equal(await kv.hdel('h:a', 'x'), false);
      assert.equal(await kv.hdel('h:a', '__proto__'), true);
      assert.deepEqual(Object.keys(await kv.hgetall('h:a')), []);
      assert.equal(await kv.setIfAbsent('h:a', 'now a string'), true, 'the emptied hash no longer exists');
    });

    test('wrong type rejects with WRONGTYPE and leaves the key alone', async () => {
      await kv.set('w:s', 'v');
      await assert.rejects(kv.hset('w:s', 'f', 'v'), rejectsWith('INTERNAL', /^INTERNAL: WRONGTYPE/));
      await assert.rejects(kv.zadd('w:s', 1, 'm'), rejectsWith('INTERNAL', /WRONGTYPE/));
      await assert.rejects(kv.pushCapped('w:s', 'v', 3), rejectsWith('INTERNAL', /WRONGTYPE/));
      await kv.hset('w:h', 'f', 'v');
      await assert.rejects(kv.get('w:h'), rejectsWith('INTERNAL', /WRONGTYPE/));
      assert.equal(await kv.get('w:s'), 'v');
    });

    test('bounded lists keep the newest cap entries; range takes negative indices', async () => {
      for (let i = 1; i <= 5; i++) await kv.pushCapped('l:{room1}:hist', `m${i}`, 3);
      assert.deepEqual(await kv.range('l:{room1}:hist', 0, -1), ['m3', 'm4', 'm5']);
      assert.deepEqual(await kv.range('l:{room1}:hist', -2, -1), ['m4', 'm5']);
      assert.deepEqual(await kv.range('l:{room1}:hist', 1, 1), ['m4']);
      assert.deepEqual(await kv.range('l:{room1}:hist', 5, 10), []);
      assert.deepEqual(await kv.range('l:{room1}:hist', -100, 0), ['m3']);
      assert.deepEqual(await kv.range('l:none', 0, -1), []);
    });

    test('sorted sets: scores, ranks, ties, ranges', async () => {
      const k = 'z:{board}';
      assert.equal(await kv.zincrby(k, 5, 'ann'), 5);
      assert.equal(await kv.zincrby(k, 2.5, 'ann'), 7.5);
      await kv.zadd(k, 3, 'bob');
      await kv.zaddMany(k, [
        { member: 'cid', score: 3 },
        { member: 'dan', score: -1 },
        { member: 'eve', score: 10 },
      ]);
      assert.equal(await kv.zcard(k), 5);
      assert.equal(await kv.zscore(k, 'ann'), 7.5);
      assert.equal(await kv.zscore(k, 'nobody'), null);
      assert.equal(await kv.zrevrank(k, 'eve'), 0);
      assert.equal(await kv.zrevrank(k, 'cid'), 2, 'ties: higher member first');
      assert.equal(await kv.zrevrank(k, 'bob'), 3);
      assert.equal(await kv.zrevrank(k, 'nobody'), null);
      assert.deepEqual(await kv.zrevrange(k, 0, 2), [
        { member: 'eve', score: 10 },
        { member: 'ann', score: 7.5 },
        { member: 'cid', score: 3 },
      ]);
      assert.deepEqual(await kv.zrevrange(k, -1, -1), [{ member: 'dan', score: -1 }]);
      assert.deepEqual(await kv.zrevrange(k, 10, 20), []);
      await kv.zadd(k, 0, 'eve');
      assert.equal(await kv.zrevrank(k, 'eve'), 3, 'zadd replaces the score');
      assert.deepEqual(await kv.zrevrange('z:none', 0, -1), []);
      assert.equal(await kv.zcard('z:none'), 0);
    });

    test('logAppend and logRead on a hash and a list that share a {tag}', async () => {
      const o = { counter: 'seq', read: 'who', window: { count: 2, bytes: 1000, ttlMs: 60_000 }, hashTtlMs: 60_000 };
      assert.deepEqual(await kv.logAppend('lh:{s1}', 'll:{s1}', 'a', o), { seq: 1, field: null });
      await kv.hset('lh:{s1}', 'who', 'b1');
      assert.deepEqual(await kv.logAppend('lh:{s1}', 'll:{s1}', 'b', o), { seq: 2, field: 'b1' });
      assert.deepEqual(await kv.logAppend('lh:{s1}', 'll:{s1}', 'c', o), { seq: 3, field: 'b1' });
      assert.deepEqual(await kv.logRead('lh:{s1}', 'seq', 'll:{s1}'), { seq: 3, entries: ['2 b', '3 c'] });
      assert.deepEqual(await kv.logRead('lh:{none}', 'seq', 'll:{none}'), { seq: 0, entries: [] });
    });

    test('a big zaddMany lands completely', async () => {
      const entries = Array.from({ length: 1234 }, (_, i) => ({ member: `p${i}`, score: i }));
      await kv.zaddMany('z:big', entries);
      assert.equal(await kv.zcard('z:big'), 1234);
      assert.deepEqual(await kv.zrevrange('z:big', 0, 0), [{ member: 'p1233', score: 1233 }]);
    });
  });
}
