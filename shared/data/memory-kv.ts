/**
 * The in-process Kv: the embedded default when no Redis URL is configured, and the in-memory twin
 * for unit tests. Same semantics as RedisKv (test/data-kv runs one body against both). TTLs are
 * checked on every access and a background sweep (unref'd timer) drops expired keys nobody reads,
 * so memory does not grow with dead sessions.
 */
import { NoonError } from '../errors';
import {
  checkCap,
  checkScore,
  checkTtl,
  logBytesField,
  sliceBounds,
  wrongType,
  type Kv,
  type LogAppended,
  type LogAppendOptions,
  type LogSnapshot,
  type ScoredMember,
} from './kv';
import { SortedSet } from './sorted-set';

type Value =
  | { t: 'str'; v: string }
  | { t: 'hash'; v: Map<string, string> }
  | { t: 'list'; v: string[] }
  | { t: 'zset'; v: SortedSet };

interface Entry {
  value: Value;
  /** Epoch ms; undefined = no TTL. */
  expiresAt?: number;
}

export interface MemoryKvOptions {
  /** Period of the expired-key sweep, ms (default 1000). */
  sweepMs?: number;
  /** Clock, injectable for tests (default Date.now). */
  now?: () => number;
}

export class MemoryKv implements Kv {
  private readonly data = new Map<string, Entry>();
  /** Keys that carry a TTL: the sweep only looks at these. */
  private readonly expiring = new Set<string>();
  private readonly now: () => number;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly opts: MemoryKvOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    if (this.sweeper !== undefined) return;
    this.sweeper = setInterval(() => this.sweep(), this.opts.sweepMs ?? 1000);
    this.sweeper.unref();
  }

  async close(): Promise<void> {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.data.clear();
    this.expiring.clear();
  }

  /** Number of live keys (for tests and metrics). */
  size(): number {
    this.sweep();
    return this.data.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const key of this.expiring) {
      const e = this.data.get(key);
      if (e === undefined || e.expiresAt === undefined) this.expiring.delete(key);
      else if (e.expiresAt <= now) this.drop(key);
    }
  }

  private drop(key: string): void {
    this.data.delete(key);
    this.expiring.delete(key);
  }

  private entry(key: string): Entry | undefined {
    const e = this.data.get(key);
    if (e?.expiresAt !== undefined && e.expiresAt <= this.now()) {
      this.drop(key);
      return undefined;
    }
    return e;
  }

  /** The key's value if it has kind t; undefined if absent; WRONGTYPE otherwise. */
  private typed<K extends Value['t']>(key: string, t: K): Extract<Value, { t: K }> | undefined {
    const e = this.entry(key);
    if (e === undefined) return undefined;
    if (e.value.t !== t) throw wrongType();
    return e.value as Extract<Value, { t: K }>;
  }

  /** The key's container of kind t, created (without TTL) if absent. */
  private container<K extends 'hash' | 'list' | 'zset'>(
    key: string,
    t: K,
    make: () => Extract<Value, { t: K }>,
  ): Extract<Value, { t: K }> {
    const found = this.typed(key, t);
    if (found !== undefined) return found;
    const value = make();
    this.data.set(key, { value });
    return value;
  }

  private put(key: string, value: Value, ttlMs: number | undefined): void {
    if (ttlMs === undefined) {
      this.data.set(key, { value });
      this.expiring.delete(key);
    } else {
      this.data.set(key, { value, expiresAt: this.now() + ttlMs });
      this.expiring.add(key);
    }
  }

  async get(key: string): Promise<string | null> {
    return this.typed(key, 'str')?.v ?? null;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    checkTtl(ttlMs);
    this.put(key, { t: 'str', v: value }, ttlMs);
  }

  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    checkTtl(ttlMs);
    if (this.entry(key) !== undefined) return false;
    this.put(key, { t: 'str', v: value }, ttlMs);
    return true;
  }

  async del(key: string): Promise<boolean> {
    const had = this.entry(key) !== undefined;
    this.drop(key);
    return had;
  }

  async incr(key: string): Promise<number> {
    const cur = this.typed(key, 'str');
    const n = cur === undefined ? 0 : /^-?\d+$/.test(cur.v) ? Number(cur.v) : NaN;
    if (!Number.isSafeInteger(n) || !Number.isSafeInteger(n + 1)) {
      throw new NoonError('INTERNAL', 'ERR value is not an integer or out of range', false);
    }
    if (cur === undefined) this.data.set(key, { value: { t: 'str', v: String(n + 1) } });
    else cur.v = String(n + 1);
    return n + 1;
  }

  async expire(key: string, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    const e = this.entry(key);
    if (e === undefined) return false;
    e.expiresAt = this.now() + ttlMs;
    this.expiring.add(key);
    return true;
  }

  async hset(key: string, field: string, value: string): Promise<void> {
    this.container(key, 'hash', () => ({ t: 'hash', v: new Map() })).v.set(field, value);
  }

  async hget(key: string, field: string): Promise<string | null> {
    return this.typed(key, 'hash')?.v.get(field) ?? null;
  }

  async hdel(key: string, field: string): Promise<boolean> {
    const h = this.typed(key, 'hash');
    if (h === undefined || !h.v.delete(field)) return false;
    if (h.v.size === 0) this.drop(key);
    return true;
  }

  async hgetall(key: string): Promise<Record<string, string>> {
    const out: Record<string, string> = Object.create(null) as Record<string, string>;
    const h = this.typed(key, 'hash');
    if (h !== undefined) for (const [f, v] of h.v) out[f] = v;
    return out;
  }

  async pushCapped(key: string, value: string | readonly string[], cap: number): Promise<void> {
    checkCap(cap);
    if (typeof value !== 'string' && value.length === 0) return;
    const list = this.container(key, 'list', () => ({ t: 'list', v: [] })).v;
    if (typeof value === 'string') list.push(value);
    else list.push(...value);
    if (list.length > cap) list.splice(0, list.length - cap);
  }

  async logAppend(hash: string, list: string, entry: string, o: LogAppendOptions): Promise<LogAppended> {
    const h = this.container(hash, 'hash', () => ({ t: 'hash', v: new Map() })).v;
    const seq = Number(h.get(o.counter) ?? 0) + 1;
    h.set(o.counter, String(seq));
    const bytesField = logBytesField(o.counter);
    const existing = this.typed(list, 'list');
    let bytes = existing === undefined ? 0 : Number(h.get(bytesField) ?? 0);
    const items = this.container(list, 'list', () => ({ t: 'list', v: [] })).v;
    const item = `${seq} ${entry}`;
    items.push(item);
    bytes += Buffer.byteLength(item);
    while (items.length > 1 && (items.length > o.window.count || bytes > o.window.bytes))
      bytes -= Buffer.byteLength(items.shift()!);
    h.set(bytesField, String(bytes));
    await this.expire(list, o.window.ttlMs);
    await this.expire(hash, o.hashTtlMs);
    return { seq, field: h.get(o.read) ?? null };
  }

  async logRead(hash: string, counter: string, list: string): Promise<LogSnapshot> {
    const seq = Number(this.typed(hash, 'hash')?.v.get(counter) ?? 0);
    return { seq, entries: [...(this.typed(list, 'list')?.v ?? [])] };
  }

  async range(key: string, start: number, stop: number): Promise<string[]> {
    const list = this.typed(key, 'list')?.v ?? [];
    const b = sliceBounds(list.length, start, stop);
    return b === null ? [] : list.slice(b[0], b[1]);
  }

  async zincrby(key: string, delta: number, member: string): Promise<number> {
    checkScore(delta);
    const z = this.typed(key, 'zset');
    const next = (z?.v.score(member) ?? 0) + delta;
    if (Number.isNaN(next)) throw new NoonError('INTERNAL', 'ERR resulting score is not a number (NaN)', false);
    this.container(key, 'zset', () => ({ t: 'zset', v: new SortedSet() })).v.set(member, next);
    return next;
  }

  async zadd(key: string, score: number, member: string): Promise<void> {
    await this.zaddMany(key, [{ member, score }]);
  }

  async zaddMany(key: string, entries: readonly ScoredMember[]): Promise<void> {
    for (const e of entries) checkScore(e.score);
    if (entries.length === 0) return;
    const z = this.container(key, 'zset', () => ({ t: 'zset', v: new SortedSet() })).v;
    for (const e of entries) z.set(e.member, e.score);
  }

  async zscore(key: string, member: string): Promise<number | null> {
    return this.typed(key, 'zset')?.v.score(member) ?? null;
  }

  async zrevrank(key: string, member: string): Promise<number | null> {
    return this.typed(key, 'zset')?.v.revRank(member) ?? null;
  }

  async zrevrange(key: string, start: number, stop: number): Promise<ScoredMember[]> {
    const z = this.typed(key, 'zset')?.v;
    if (z === undefined) return [];
    const b = sliceBounds(z.size, start, stop);
    return b === null ? [] : z.revSlice(b[0], b[1]);
  }

  async zcard(key: string): Promise<number> {
    return this.typed(key, 'zset')?.v.size ?? 0;
  }
}
