/**
 * Kv over Redis: several shards placed by client-side consistent hashing (redis-ring.ts), or one
 * Redis Cluster (redis-cluster.ts). Each operation names all its keys to the keyspace; the
 * multi-key ones (logAppend, logRead) need keys that share a `{tag}`, so they run on one server
 * (one hash slot in a cluster). A dead shard or master rejects fast; the others keep serving.
 */
import type { Logger } from '../log';
import { NoonError } from '../errors';
import {
  checkCap,
  checkScore,
  checkTtl,
  logBytesField,
  parseScore,
  type Kv,
  type LogAppended,
  type LogAppendOptions,
  type LogSnapshot,
  type ScoredMember,
} from './kv';
import { ClusterKeyspace } from './redis-cluster';
import type { ShardOptions } from './redis-guard';
import type { RedisCommands, RedisKeyspace } from './redis-keyspace';
import { ShardRing } from './redis-ring';
import type { RingTarget } from './redis-shard';
import { parseRedisList } from './redis-url';

export interface RedisKvOptions extends Omit<ShardOptions, 'logger'> {
  /** Shard URLs (redis-url.ts), or one redis-cluster:// URL. */
  shards: readonly string[];
  logger: Logger;
  /** Prepended to every key (not hashed by the ring; hashed, so brace-free, in a cluster), so several deployments or test runs can share servers. */
  keyPrefix?: string;
  /** Virtual nodes per shard (default 160). */
  vnodes?: number;
  /** How long start() waits for the shards or the cluster to connect, ms (default 2000). */
  startTimeoutMs?: number;
}

/** logAppend (kv.ts) as one script: KEYS hash, list; ARGV counter, read, entry, count, bytes, list ttl, hash ttl, bytes field. */
const LOG_APPEND = `
local seq = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('HSET', KEYS[1], ARGV[8], 0) end
local item = seq .. ' ' .. ARGV[3]
local n = redis.call('RPUSH', KEYS[2], item)
local bytes = redis.call('HINCRBY', KEYS[1], ARGV[8], #item)
local maxCount = tonumber(ARGV[4])
local maxBytes = tonumber(ARGV[5])
while n > 1 and (n > maxCount or bytes > maxBytes) do
  local old = redis.call('LPOP', KEYS[2])
  bytes = redis.call('HINCRBY', KEYS[1], ARGV[8], -#old)
  n = n - 1
end
redis.call('PEXPIRE', KEYS[2], ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return {seq, redis.call('HGET', KEYS[1], ARGV[2])}
`;

type LogAppendClient = { noonLogAppend(...args: (string | number)[]): Promise<unknown> };
const scripted = new WeakSet<object>();

/** The client with LOG_APPEND as a command: EVALSHA, the script sent once per connection. */
function withLogAppend(c: RedisCommands): LogAppendClient {
  if (!scripted.has(c)) {
    c.defineCommand('noonLogAppend', { numberOfKeys: 2, lua: LOG_APPEND });
    scripted.add(c);
  }
  return c as unknown as LogAppendClient;
}

/** ZADD arguments per command, so one huge batch does not block the server. */
const ZADD_CHUNK = 500;

function pairs(flat: unknown): ScoredMember[] {
  if (!Array.isArray(flat)) return [];
  const out: ScoredMember[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2)
    out.push({ member: String(flat[i]), score: parseScore(String(flat[i + 1])) });
  return out;
}

/** MULTI/EXEC answers [err, reply] per command; the first error is the transaction's error. */
function execResult(res: [Error | null, unknown][] | null): unknown[] {
  if (res === null) throw new NoonError('UNAVAILABLE', 'redis transaction was discarded');
  for (const [err] of res) if (err !== null) throw err;
  return res.map(([, v]) => v);
}

export class RedisKv implements Kv {
  private readonly space: RedisKeyspace;
  private readonly prefix: string;

  constructor(private readonly opts: RedisKvOptions) {
    if (opts.shards.length === 0) throw new NoonError('INTERNAL', 'RedisKv needs at least one shard URL', false);
    this.prefix = opts.keyPrefix ?? '';
    // Validate every URL before connecting anything, so a bad list leaks no reconnecting client.
    const targets = parseRedisList(opts.shards);
    const cluster = targets[0]?.kind === 'cluster' ? targets[0] : undefined;
    this.space =
      cluster !== undefined
        ? new ClusterKeyspace(cluster, { ...opts, keyPrefix: this.prefix })
        : new ShardRing(targets as RingTarget[], opts);
  }

  /**
   * Waits for the shards (or the cluster) to connect. One still down at the deadline is logged and
   * left reconnecting: its keys fail fast (callers fall back to Postgres) until it comes up.
   */
  async start(): Promise<void> {
    await this.space.start(this.opts.startTimeoutMs ?? 2000);
  }

  async close(): Promise<void> {
    await this.space.close();
  }

  /** The shard id (credential-free URL), or the cluster master ("host:port"), that owns key. */
  shardFor(key: string): string {
    return this.space.ownerOf(key);
  }

  /** Breaker state per shard or cluster master, for health endpoints and metrics. */
  health(): Record<string, string> {
    return this.space.health();
  }

  private on<T>(key: string, fn: (c: RedisCommands, k: string) => Promise<T>): Promise<T> {
    const full = this.prefix + key;
    return this.space.run([key], (c) => fn(c, full));
  }

  /** Runs fn on the one server holding every key (they share a {tag}); fn gets them prefixed. */
  private onAll<T>(keys: readonly string[], fn: (c: RedisCommands, ks: string[]) => Promise<T>): Promise<T> {
    const full = keys.map((k) => this.prefix + k);
    return this.space.run(keys, (c) => fn(c, full));
  }

  async get(key: string): Promise<string | null> {
    return this.on(key, (c, k) => c.get(k));
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    checkTtl(ttlMs);
    await this.on(key, (c, k) => (ttlMs === undefined ? c.set(k, value) : c.set(k, value, 'PX', ttlMs)));
  }

  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    checkTtl(ttlMs);
    const res = await this.on(key, (c, k) =>
      ttlMs === undefined ? c.set(k, value, 'NX') : c.set(k, value, 'PX', ttlMs, 'NX'),
    );
    return res === 'OK';
  }

  async del(key: string): Promise<boolean> {
    return (await this.on(key, (c, k) => c.del(k))) > 0;
  }

  async incr(key: string): Promise<number> {
    return this.on(key, (c, k) => c.incr(k));
  }

  async expire(key: string, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    return (await this.on(key, (c, k) => c.pexpire(k, ttlMs))) === 1;
  }

  async hset(key: string, field: string, value: string): Promise<void> {
    await this.on(key, (c, k) => c.hset(k, field, value));
  }

  async hget(key: string, field: string): Promise<string | null> {
    return this.on(key, (c, k) => c.hget(k, field));
  }

  async hdel(key: string, field: string): Promise<boolean> {
    return (await this.on(key, (c, k) => c.hdel(k, field))) > 0;
  }

  async hgetall(key: string): Promise<Record<string, string>> {
    const raw = await this.on(key, (c, k) => c.hgetall(k));
    const out: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const f of Object.keys(raw)) out[f] = String(raw[f]);
    return out;
  }

  async pushCapped(key: string, value: string | readonly string[], cap: number): Promise<void> {
    checkCap(cap);
    const values = typeof value === 'string' ? [value] : [...value];
    if (values.length === 0) return;
    await this.on(key, async (c, k) =>
      execResult(
        await c
          .multi()
          .rpush(k, ...values)
          .ltrim(k, -cap, -1)
          .exec(),
      ),
    );
  }

  async range(key: string, start: number, stop: number): Promise<string[]> {
    return this.on(key, (c, k) => c.lrange(k, start, stop));
  }

  async logAppend(hash: string, list: string, entry: string, o: LogAppendOptions): Promise<LogAppended> {
    checkTtl(o.window.ttlMs);
    checkTtl(o.hashTtlMs);
    const args = [o.counter, o.read, entry, o.window.count, o.window.bytes, o.window.ttlMs, o.hashTtlMs];
    const res = (await this.onAll([hash, list], (c, [h, l]) =>
      withLogAppend(c).noonLogAppend(h!, l!, ...args, logBytesField(o.counter)),
    )) as [number, string | null];
    return { seq: Number(res[0]), field: res[1] ?? null };
  }

  async logRead(hash: string, counter: string, list: string): Promise<LogSnapshot> {
    const [seq, entries] = execResult(
      await this.onAll([hash, list], (c, [h, l]) => c.multi().hget(h!, counter).lrange(l!, 0, -1).exec()),
    ) as [string | null, string[]];
    return { seq: Number(seq ?? 0), entries };
  }

  async zincrby(key: string, delta: number, member: string): Promise<number> {
    checkScore(delta);
    return parseScore(String(await this.on(key, (c, k) => c.zincrby(k, delta, member))));
  }

  async zadd(key: string, score: number, member: string): Promise<void> {
    checkScore(score);
    await this.on(key, (c, k) => c.zadd(k, score, member));
  }

  async zaddMany(key: string, entries: readonly ScoredMember[]): Promise<void> {
    for (const e of entries) checkScore(e.score);
    if (entries.length === 0) return;
    await this.on(key, async (c, k) => {
      const tx = c.multi();
      for (let i = 0; i < entries.length; i += ZADD_CHUNK) {
        const args = entries.slice(i, i + ZADD_CHUNK).flatMap((e) => [e.score, e.member]);
        tx.zadd(k, ...args);
      }
      return execResult(await tx.exec());
    });
  }

  async zscore(key: string, member: string): Promise<number | null> {
    const s = await this.on(key, (c, k) => c.zscore(k, member));
    return s === null ? null : parseScore(String(s));
  }

  async zrevrank(key: string, member: string): Promise<number | null> {
    return this.on(key, (c, k) => c.zrevrank(k, member));
  }

  async zrevrange(key: string, start: number, stop: number): Promise<ScoredMember[]> {
    return pairs(await this.on(key, (c, k) => c.zrevrange(k, start, stop, 'WITHSCORES')));
  }

  async zcard(key: string): Promise<number> {
    return this.on(key, (c, k) => c.zcard(k));
  }
}
