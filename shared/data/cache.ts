/**
 * Cache-aside over a Kv, in front of Postgres. Reads: cache hit, else `load()` (Postgres) and fill.
 * Writes go to Postgres first, then `invalidate` or `put`. The Kv failing (a dead shard) is never
 * an error here: reads fall back to `load()`, so a dead shard degrades to Postgres reads.
 *
 * Wrong data is avoided three ways: values carry an envelope and codec version, so a value in an
 * old format is a miss; an invalidation that could not reach the Kv is remembered and the key is
 * read from Postgres (retrying the delete) until it succeeds or the TTL has expired the old value;
 * a load racing an invalidation in this process does not write its (older) result back.
 * Another process's racing load can still write an older value; `ttlMs` bounds how long it lives.
 */
import type { Logger } from '../log';
import type { Kv } from './kv';

export interface Codec<T> {
  /** Bump when the encoding changes: cached values of another version are misses. No newline. */
  readonly version: string;
  encode(value: T): string;
  /** Throws on a value it cannot read (treated as a miss). */
  decode(text: string): T;
}

export function jsonCodec<T>(version = '1'): Codec<T> {
  return { version: `json${version}`, encode: (v) => JSON.stringify(v), decode: (s) => JSON.parse(s) as T };
}

export interface CacheOptions {
  ttlMs: number;
  logger: Logger;
  /** Prepended to every cache key (default "cache:"). */
  namespace?: string;
  /** At most one warn per this many ms about Kv failures; the rest go to debug (default 10000). */
  warnEveryMs?: number;
  /** Failed invalidations remembered at most (oldest forgotten first; default 10000). */
  maxPending?: number;
}

export interface CacheStats {
  hits: number;
  misses: number;
  kvErrors: number;
}

/** Envelope version of the stored format itself (before the codec's own version). */
const ENVELOPE = 'c1';

interface Flight {
  promise: Promise<unknown>;
  /** Set by invalidate/put while the load runs: its result must not be cached. */
  stale: boolean;
}

export class Cache {
  private readonly inflight = new Map<string, Flight>();
  /** Keys whose invalidation failed -> until when the Kv copy may still be stale (epoch ms). */
  private readonly pending = new Map<string, number>();
  private readonly ns: string;
  private lastWarn = 0;
  private suppressed = 0;
  private readonly counters: CacheStats = { hits: 0, misses: 0, kvErrors: 0 };

  constructor(
    private readonly kv: Kv,
    private readonly opts: CacheOptions,
  ) {
    this.ns = opts.namespace ?? 'cache:';
  }

  stats(): CacheStats {
    return { ...this.counters };
  }

  /**
   * The cached value, or load()'s (which is then cached for ttlMs). Concurrent calls for one key
   * share one load, so a shard outage does not multiply Postgres reads. Rejects only when load does.
   */
  getOrLoad<T>(key: string, load: () => Promise<T>, codec: Codec<T> = jsonCodec<T>()): Promise<T> {
    const running = this.inflight.get(key);
    if (running !== undefined) return running.promise as Promise<T>;
    const flight: Flight = { promise: Promise.resolve(), stale: false };
    const promise = this.fill(key, load, codec, flight).finally(() => {
      if (this.inflight.get(key) === flight) this.inflight.delete(key);
    });
    flight.promise = promise;
    this.inflight.set(key, flight);
    return promise;
  }

  /** Drops the cached value after a write. False = the Kv was unreachable (remembered, see above). */
  async invalidate(key: string): Promise<boolean> {
    this.markStale(key);
    if (await this.retryDelete(key)) return true;
    this.remember(key);
    return false;
  }

  /** Caches a value just written to Postgres. False = the Kv was unreachable (remembered). */
  async put<T>(key: string, value: T, codec: Codec<T> = jsonCodec<T>()): Promise<boolean> {
    this.markStale(key);
    try {
      await this.kv.set(this.ns + key, this.envelope(value, codec), this.opts.ttlMs);
      this.pending.delete(key);
      return true;
    } catch (err) {
      this.kvError('set', key, err);
      this.remember(key);
      return false;
    }
  }

  private async fill<T>(key: string, load: () => Promise<T>, codec: Codec<T>, flight: Flight): Promise<T> {
    if (this.isPending(key) && !(await this.retryDelete(key))) {
      this.counters.misses++;
      return load();
    }
    const ck = this.ns + key;
    let kvUp = true;
    try {
      const text = await this.kv.get(ck);
      const hit = text === null ? undefined : this.open(text, codec);
      if (hit !== undefined) {
        this.counters.hits++;
        return hit.value;
      }
    } catch (err) {
      kvUp = false;
      this.kvError('get', key, err);
    }
    this.counters.misses++;
    const value = await load();
    if (kvUp && !flight.stale) await this.store(ck, key, value, codec);
    return value;
  }

  private async store<T>(ck: string, key: string, value: T, codec: Codec<T>): Promise<void> {
    let text: string;
    try {
      text = this.envelope(value, codec);
    } catch {
      return; // not encodable (e.g. undefined): served uncached
    }
    try {
      await this.kv.set(ck, text, this.opts.ttlMs);
    } catch (err) {
      this.kvError('set', key, err);
    }
  }

  private envelope<T>(value: T, codec: Codec<T>): string {
    const body = codec.encode(value);
    if (typeof body !== 'string') throw new TypeError('codec produced no string');
    return `${ENVELOPE}:${codec.version}\n${body}`;
  }

  /** The decoded value, or undefined when the stored text is in another format or unreadable. */
  private open<T>(text: string, codec: Codec<T>): { value: T } | undefined {
    const head = `${ENVELOPE}:${codec.version}\n`;
    if (!text.startsWith(head)) return undefined;
    try {
      return { value: codec.decode(text.slice(head.length)) };
    } catch {
      return undefined;
    }
  }

  /** Deletes the cached copy (first try or a retry of a failed invalidation); true once it is gone. */
  private async retryDelete(key: string): Promise<boolean> {
    try {
      await this.kv.del(this.ns + key);
      this.pending.delete(key);
      return true;
    } catch (err) {
      this.kvError('del', key, err);
      return false;
    }
  }

  private markStale(key: string): void {
    const f = this.inflight.get(key);
    if (f === undefined) return;
    f.stale = true;
    // Later callers start a fresh load instead of joining one that may predate the write.
    this.inflight.delete(key);
  }

  private remember(key: string): void {
    this.pending.delete(key);
    this.pending.set(key, Date.now() + this.opts.ttlMs);
    const max = this.opts.maxPending ?? 10_000;
    while (this.pending.size > max) {
      const oldest = this.pending.keys().next().value;
      if (oldest === undefined) break;
      this.pending.delete(oldest);
    }
  }

  private isPending(key: string): boolean {
    const until = this.pending.get(key);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.pending.delete(key); // the stale copy has expired in the Kv by now
    return false;
  }

  private kvError(op: string, key: string, err: unknown): void {
    this.counters.kvErrors++;
    const msg = err instanceof Error ? err.message : String(err);
    const now = Date.now();
    if (now - this.lastWarn >= (this.opts.warnEveryMs ?? 10_000)) {
      this.opts.logger.warn(
        { op, key, err: msg, suppressed: this.suppressed },
        'cache unavailable; reading from the database',
      );
      this.lastWarn = now;
      this.suppressed = 0;
    } else {
      this.suppressed++;
      this.opts.logger.debug({ op, key, err: msg }, 'cache unavailable');
    }
  }
}
