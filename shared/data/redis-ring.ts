/**
 * A keyspace over several Redis shards with client-side consistent hashing (hash-ring.ts). A key
 * goes to one shard, chosen by its `{tag}` if it has one (placement ignores the key prefix);
 * an operation's keys go to the shard of its first key, so they must share a tag. There is no
 * automatic resharding: adding a shard moves ~1/N of the keys, which then miss once and are
 * rebuilt from Postgres. A dead shard rejects fast (redis-shard.ts); the others keep serving.
 */
import type { Logger } from '../log';
import { NoonError } from '../errors';
import { HashRing } from './hash-ring';
import type { RedisCommands, RedisKeyspace } from './redis-keyspace';
import { RedisShard, type RingTarget, type ShardOptions } from './redis-shard';

export class ShardRing implements RedisKeyspace {
  private readonly ring: HashRing;
  private readonly shards = new Map<string, RedisShard>();
  private readonly log: Logger;

  constructor(targets: readonly RingTarget[], opts: ShardOptions & { vnodes?: number }) {
    if (targets.length === 0) throw new NoonError('INTERNAL', 'RedisKv needs at least one shard URL', false);
    this.log = opts.logger.child({ component: 'redis-kv' });
    const ids = new Set(targets.map((t) => t.id));
    if (ids.size !== targets.length)
      throw new NoonError('INTERNAL', `duplicate redis shard in ${[...ids].join(', ')}`, false);
    for (const target of targets) this.shards.set(target.id, new RedisShard(target, opts));
    this.ring = new HashRing(this.shards.keys(), opts.vnodes ?? 160);
  }

  run<T>(keys: readonly string[], fn: (c: RedisCommands) => Promise<T>): Promise<T> {
    const shard = this.shards.get(this.ring.nodeFor(keys[0]!))!;
    return shard.run(fn);
  }

  ownerOf(key: string): string {
    return this.ring.nodeFor(key);
  }

  async start(deadlineMs: number): Promise<void> {
    const ready = await Promise.all(
      [...this.shards.values()].map(async (s) => [s.id, await s.waitReady(deadlineMs)] as const),
    );
    const down = ready.filter(([, ok]) => !ok).map(([id]) => id);
    if (down.length > 0)
      this.log.warn({ down }, 'redis shards not reachable at start; their keys fail fast until they are');
  }

  async close(): Promise<void> {
    await Promise.all([...this.shards.values()].map((s) => s.close()));
  }

  health(): Record<string, string> {
    const out: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [id, s] of this.shards) out[id] = s.state;
    return out;
  }
}
