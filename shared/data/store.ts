/**
 * Opens the process's Kv: Redis when URLs are configured (shards, or one redis-cluster:// URL),
 * else the in-process store (the embedded default: `noon up` needs nothing installed).
 */
import type { Logger } from '../log';
import type { DataMetrics } from './data-metrics';
import { instrumentKv } from './instrumented-kv';
import type { Kv } from './kv';
import { MemoryKv } from './memory-kv';
import { RedisKv, type RedisKvOptions } from './redis-kv';

export interface OpenKvOptions {
  redis: readonly string[];
  keyPrefix?: string;
  logger: Logger;
  /** Timeouts, cooldown and ring settings for Redis; ignored by the in-process store. */
  tuning?: Omit<RedisKvOptions, 'shards' | 'logger' | 'keyPrefix'>;
  /** Times Redis commands and counts failures here (a role's Kv); the in-process store is not Redis. */
  metrics?: DataMetrics;
}

export async function openKv(opts: OpenKvOptions): Promise<Kv> {
  if (opts.redis.length === 0) {
    // A prefix only separates tenants of shared servers; an in-process store has none.
    const kv = new MemoryKv();
    kv.start();
    return kv;
  }
  const kv = new RedisKv({ ...opts.tuning, shards: opts.redis, keyPrefix: opts.keyPrefix, logger: opts.logger });
  await kv.start();
  return opts.metrics ? instrumentKv(kv, opts.metrics) : kv;
}
