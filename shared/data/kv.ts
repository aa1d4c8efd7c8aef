/**
 * The key-value store the services use for cache, sessions, bindings, room history and
 * leaderboards. Values are strings. Two implementations with the same semantics (test/data-kv):
 * MemoryKv (in-process, the embedded default) and RedisKv (sharded Redis).
 *
 * Contract (Redis semantics): TTLs are in ms; `set` without a TTL clears any TTL, `incr`, `hset`,
 * `pushCapped` and `zadd` keep it. A hash, list or sorted set that becomes empty no longer exists.
 * Using a key as the wrong type rejects with NoonError INTERNAL "WRONGTYPE ...". A shard that is
 * down rejects with NoonError UNAVAILABLE quickly; nothing here ever waits for a dead server.
 * Redis holds only what can be rebuilt from Postgres (docs/architecture.md, "Data").
 */
import { NoonError } from '../errors';

export interface ScoredMember {
  member: string;
  score: number;
}

export interface Kv {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** SET NX: true when the key was absent and is now set. */
  setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean>;
  /** True when the key existed. */
  del(key: string): Promise<boolean>;
  /** Adds 1 to an integer value (absent = 0); returns the new value. */
  incr(key: string): Promise<number>;
  /** True when the key exists and now expires in ttlMs. */
  expire(key: string, ttlMs: number): Promise<boolean>;

  hset(key: string, field: string, value: string): Promise<void>;
  hget(key: string, field: string): Promise<string | null>;
  /** True when the field existed. */
  hdel(key: string, field: string): Promise<boolean>;
  /** All fields, in a null-prototype object (a `__proto__` field is just a field). */
  hgetall(key: string): Promise<Record<string, string>>;

  /** Appends value and keeps only the newest `cap` entries (RPUSH + LTRIM, atomically). */
  pushCapped(key: string, value: string | readonly string[], cap: number): Promise<void>;
  /** LRANGE: inclusive indices, negative ones count from the end. */
  range(key: string, start: number, stop: number): Promise<string[]>;

  /** Adds delta to member's score (absent = 0); returns the new score. */
  zincrby(key: string, delta: number, member: string): Promise<number>;
  zadd(key: string, score: number, member: string): Promise<void>;
  zaddMany(key: string, entries: readonly ScoredMember[]): Promise<void>;
  zscore(key: string, member: string): Promise<number | null>;
  /** 0 = highest score; ties ordered by member, descending (as Redis). */
  zrevrank(key: string, member: string): Promise<number | null>;
  /** Highest first, inclusive indices, negative ones count from the end. */
  zrevrange(key: string, start: number, stop: number): Promise<ScoredMember[]>;
  zcard(key: string): Promise<number>;

  /**
   * A numbered log kept as one hash and one list that share a `{tag}` (push streams): adds 1 to
   * the hash's `o.counter` field, appends "<n> <entry>" to the list, drops its oldest entries
   * beyond `o.window` (count, bytes; never the new one), gives the list the window's TTL and the
   * hash `o.hashTtlMs`, and answers n with the hash's field `o.read`. Atomic, one round trip.
   */
  logAppend(hash: string, list: string, entry: string, o: LogAppendOptions): Promise<LogAppended>;
  /** The hash's counter field (0 when absent) and the whole list, read together. */
  logRead(hash: string, counter: string, list: string): Promise<LogSnapshot>;

  close(): Promise<void>;
}

export interface LogAppendOptions {
  counter: string;
  read: string;
  window: { count: number; bytes: number; ttlMs: number };
  hashTtlMs: number;
}

export interface LogAppended {
  seq: number;
  /** the hash's `read` field, null when absent */
  field: string | null;
}

export interface LogSnapshot {
  seq: number;
  /** oldest first, each "<n> <entry>" */
  entries: string[];
}

/** The hash field where logAppend keeps the list's size in bytes. */
export const logBytesField = (counter: string): string => `${counter}:bytes`;

/** The message both implementations use for a type clash, so callers can match one string. */
export const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';

export function wrongType(): NoonError {
  return new NoonError('INTERNAL', WRONGTYPE, false);
}

export function checkTtl(ttlMs: number | undefined): void {
  if (ttlMs === undefined) return;
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0)
    throw new NoonError('INTERNAL', `ttlMs must be a positive integer, got ${ttlMs}`, false);
}

export function checkCap(cap: number): void {
  if (!Number.isSafeInteger(cap) || cap <= 0)
    throw new NoonError('INTERNAL', `cap must be a positive integer, got ${cap}`, false);
}

export function checkScore(score: number): void {
  if (Number.isNaN(score)) throw new NoonError('INTERNAL', 'score must not be NaN', false);
}

/** Redis renders infinite scores as "inf"/"-inf". */
export function parseScore(s: string): number {
  if (s === 'inf' || s === '+inf') return Infinity;
  if (s === '-inf') return -Infinity;
  return Number(s);
}

/** Resolves LRANGE-style inclusive, possibly negative indices against a length; null = empty. */
export function sliceBounds(len: number, start: number, stop: number): [number, number] | null {
  let s = start < 0 ? Math.max(len + start, 0) : start;
  let e = stop < 0 ? len + stop : Math.min(stop, len - 1);
  if (s > e || s >= len || e < 0) return null;
  s = Math.trunc(s);
  e = Math.trunc(e);
  return [s, e + 1];
}
