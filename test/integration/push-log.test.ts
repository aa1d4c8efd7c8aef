/**
 * The push stream in the session store on real Redis (logical database 9) and in the in-process
 * store: the same numbering, window trimming by count and bytes, the session's broker answered
 * by the append, and reads after a seq with the missed range.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { silentLogger } from '../../shared/log';
import { RedisKv } from '../../shared/data/redis-kv';
import { MemoryKv } from '../../shared/data/memory-kv';
import type { Kv } from '../../shared/data/kv';
import { PushLog } from '../../shared/data/push-log';
import { sessionKey, BROKER_FIELD } from '../../shared/session-keys';
import { peekHeader } from '../../shared/thrift/header';
import { events } from '../../shared/thrift/events';
import { Wallet } from '../../shared/protocol';
import { redisUrlFor } from '../support/services';

const prefix = `pushlog-${randomBytes(4).toString('hex')}:`;
let redis: RedisKv;
const memory = new MemoryKv();

before(async () => {
  redis = new RedisKv({ shards: [redisUrlFor(9)], logger: silentLogger(), keyPrefix: prefix });
  await redis.start();
});

after(async () => {
  await redis.close();
  await memory.close();
});

const wallet = (soft: number): Buffer => events.walletChanged(new Wallet({ soft, hard: 0 }));

for (const [label, kv] of [
  ['redis', (): Kv => redis],
  ['memory', (): Kv => memory],
] as const) {
  test(`${label}: logAppend numbers, trims by count and bytes (never the newest), answers the read field`, async () => {
    const h = `h{${label}}`;
    const l = `l{${label}}`;
    const o = (count: number, bytes: number) => ({
      counter: 'pushSeq',
      read: 'broker',
      window: { count, bytes, ttlMs: 60_000 },
      hashTtlMs: 60_000,
    });
    assert.deepEqual(await kv().logAppend(h, l, 'e1', o(3, 1000)), { seq: 1, field: null });
    await kv().hset(h, 'broker', 'b1');
    for (let i = 2; i <= 5; i++)
      assert.deepEqual(await kv().logAppend(h, l, `e${i}`, o(3, 1000)), { seq: i, field: 'b1' });
    assert.deepEqual(await kv().logRead(h, 'pushSeq', l), { seq: 5, entries: ['3 e3', '4 e4', '5 e5'] });
    await kv().logAppend(h, l, 'e6', o(3, 9));
    assert.deepEqual((await kv().logRead(h, 'pushSeq', l)).entries, ['5 e5', '6 e6']);
    await kv().logAppend(h, l, 'a-very-long-entry', o(3, 9));
    assert.deepEqual((await kv().logRead(h, 'pushSeq', l)).entries, ['7 a-very-long-entry']);
    // the list gone (its TTL), the counter kept: the byte count starts over
    await kv().del(l);
    await kv().logAppend(h, l, 'e8', o(3, 9));
    assert.deepEqual(await kv().logRead(h, 'pushSeq', l), { seq: 8, entries: ['8 e8'] });
    assert.equal(await kv().hget(h, 'pushSeq:bytes'), '4');
  });

  test(`${label}: PushLog reads after a seq, messages numbered, with the range the window lost`, async () => {
    const log = new PushLog(kv(), { count: 3, bytes: 1 << 20, ageMs: 60_000 });
    const session = `s-${randomBytes(4).toString('hex')}`;
    await kv().hset(sessionKey(session), BROKER_FIELD, 'broker-x');
    for (let i = 1; i <= 5; i++) {
      const a = await log.append(session, 'Events:walletChanged', wallet(i));
      assert.deepEqual(a, { seq: i, broker: 'broker-x' });
    }
    const r = await log.read(session, 1, 100);
    assert.deepEqual(r.missed, { fromSeq: 2, toSeq: 2 });
    assert.deepEqual(
      r.pushes.map((p) => [p.seq, peekHeader(p.message, 64).seqid]),
      [
        [3, 3],
        [4, 4],
        [5, 5],
      ],
    );
    assert.equal(r.lastSeq, 5);
    const none = await log.read(session, 5, 100);
    assert.deepEqual([none.pushes.length, none.missed], [0, undefined]);
  });
}
