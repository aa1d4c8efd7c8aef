/**
 * One Redis shard: an ioredis client set up as docs/limits.md ("Data stores") says, plus a circuit
 * breaker. Every command either answers, or rejects with NoonError UNAVAILABLE within about
 * `commandTimeoutMs` (first failure) or at once (breaker open, or not connected: the offline queue
 * is off, so nothing waits for a reconnect).
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../log';
import { NoonError } from '../errors';
import { CircuitBreaker, type BreakerState } from './breaker';
import type { ShardTarget } from './redis-url';

export interface ShardOptions {
  logger: Logger;
  /** Per-command deadline, ms (default 500). */
  commandTimeoutMs?: number;
  /** TCP connect deadline, ms (default 1000). */
  connectTimeoutMs?: number;
  /** How long a failed shard is skipped before one probe, ms (default 1000). */
  cooldownMs?: number;
}

/** Replies meaning "this server cannot serve now", not "your command is wrong". */
const UNAVAILABLE_REPLY = /^(READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|BUSY|TRYAGAIN)\b/;

function isReplyError(err: unknown): err is Error {
  return err instanceof Error && err.name === 'ReplyError';
}

function clientOptions(target: ShardTarget, opts: ShardOptions): RedisOptions {
  const common: RedisOptions = {
    username: target.username,
    password: target.password,
    commandTimeout: opts.commandTimeoutMs ?? 500,
    connectTimeout: opts.connectTimeoutMs ?? 1000,
    maxRetriesPerRequest: 1,
    // The cache must fail fast to Postgres, never queue behind a reconnect.
    enableOfflineQueue: false,
    // A command the caller already saw fail must not be replayed later (incr/zincrby would double).
    autoResendUnfulfilledCommands: false,
    // After a Sentinel failover the old master turns replica: reconnect to find the new one.
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    protocol: 2,
  };
  if (target.kind === 'sentinel') {
    return { ...common, sentinels: target.sentinels, name: target.name, failoverDetector: true };
  }
  return { ...common, host: target.host, port: target.port, db: target.db, tls: target.tls ? {} : undefined };
}

export class RedisShard {
  readonly id: string;
  readonly client: Redis;
  readonly breaker: CircuitBreaker;
  private readonly log: Logger;
  private lastErrorLog = 0;

  constructor(target: ShardTarget, opts: ShardOptions) {
    this.id = target.id;
    this.log = opts.logger.child({ component: 'redis', shard: target.id });
    this.breaker = new CircuitBreaker({
      cooldownMs: opts.cooldownMs ?? 1000,
      onChange: (from, to) => this.onBreaker(from, to),
    });
    this.client = new Redis(clientOptions(target, opts));
    // Emitted on every failed (re)connect; without a listener it would crash the process.
    this.client.on('error', (err: Error) => this.onClientError(err));
  }

  /** Waits until connected or the deadline; false = not ready yet (it keeps reconnecting). */
  async waitReady(deadlineMs: number): Promise<boolean> {
    if (this.client.status === 'ready') return true;
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        resolve(ok);
      };
      const onReady = (): void => done(true);
      const timer = setTimeout(() => done(false), deadlineMs);
      this.client.on('ready', onReady);
    });
  }

  /** Runs fn against this shard through the breaker; maps failures to NoonErrors. */
  async run<T>(fn: (c: Redis) => Promise<T>): Promise<T> {
    if (!this.breaker.allow()) {
      throw this.unavailable(`circuit open, next probe in ${this.breaker.retryInMs()} ms`);
    }
    if (this.client.status !== 'ready') {
      this.breaker.failure();
      throw this.unavailable(`not connected (${this.client.status})`);
    }
    try {
      const out = await fn(this.client);
      this.breaker.success();
      return out;
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (isReplyError(err) && !UNAVAILABLE_REPLY.test(msg)) {
        // The server answered: it is healthy, the command was wrong (e.g. WRONGTYPE).
        this.breaker.success();
        throw new NoonError('INTERNAL', msg, false);
      }
      this.breaker.failure();
      throw this.unavailable(msg);
    }
  }

  async close(): Promise<void> {
    if (this.client.status === 'end') return;
    try {
      await this.client.quit();
    } catch {
      // quit fails when the connection is already gone; disconnect stops any reconnect loop.
      this.client.disconnect();
    }
  }

  get state(): BreakerState {
    return this.breaker.state;
  }

  private unavailable(why: string): NoonError {
    return new NoonError('UNAVAILABLE', `redis shard ${this.id}: ${why}`);
  }

  private onBreaker(from: BreakerState, to: BreakerState): void {
    if (to === 'open' && from === 'closed') this.log.warn('shard failed; skipping it until a probe succeeds');
    else if (to === 'closed') this.log.info('shard recovered');
  }

  private onClientError(err: Error): void {
    // A dead shard errors on every reconnect attempt: one warn per 10 s, the rest at debug.
    const now = Date.now();
    if (now - this.lastErrorLog >= 10_000) {
      this.lastErrorLog = now;
      this.log.warn({ err: err.message }, 'redis connection error');
    } else {
      this.log.debug({ err: err.message }, 'redis connection error');
    }
  }
}
