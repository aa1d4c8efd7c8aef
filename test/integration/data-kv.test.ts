// The Kv conformance body (test/support/kv-conformance.ts), run against MemoryKv and RedisKv (the
// machine's Redis, two logical shards on db 0 and db 1, a unique key prefix per run, deleted
// after). A missing Redis fails the suite; it never skips.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { silentLogger } from '../../shared/log';
import { MemoryKv } from '../../shared/data/memory-kv';
import { RedisKv } from '../../shared/data/redis-kv';
import { openKv } from '../../shared/data/store';
import { conformance } from '../support/kv-conformance';
import { TEST_REDIS_URL } from '../support/services';

const REDIS = TEST_REDIS_URL;

conformance(
  'MemoryKv (openKv with no Redis URLs)',
  async () => {
    const kv = await openKv({ redis: [], logger: silentLogger() });
    assert.ok(kv instanceof MemoryKv);
    return kv;
  },
  async () => {},
);

const prefix = `noon-test:${randomBytes(6).toString('hex')}:`;
const shardUrls = [`${REDIS}/0`, `${REDIS}/1`];
conformance(
  `RedisKv (${shardUrls.join(', ')}, prefix ${prefix})`,
  async () => {
    // Fails the suite (never skips) when the machine's Redis is not there.
    const probe = new Redis(REDIS, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await probe.connect();
      assert.equal(await probe.ping(), 'PONG');
    } finally {
      probe.disconnect();
    }
    const kv = await openKv({ redis: shardUrls, keyPrefix: prefix, logger: silentLogger() });
    assert.ok(kv instanceof RedisKv);
    const owners = new Set(Array.from({ length: 32 }, (_, i) => kv.shardFor(`k${i}`)));
    assert.equal(owners.size, 2, 'keys really spread over both logical shards');
    return kv;
  },
  async () => {
    for (const url of shardUrls) {
      const c = new Redis(url);
      c.on('error', () => {});
      const keys = await c.keys(`${prefix}*`);
      if (keys.length > 0) await c.del(...keys);
      await c.quit();
    }
  },
);
