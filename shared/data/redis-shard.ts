/**
 * One Redis shard (a server, or a Sentinel-managed master): an ioredis client with the settings
 * of redis-guard.ts, plus a circuit breaker.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../log';
import { NoonError } from '../errors';
import { CircuitBreaker, type BreakerState } from './breaker';
import { ConnectionErrorLog, connectionOptions, guarded, reconnectDelay, type ShardOptions } from './redis-guard';
import type { ClusterTarget, ShardTarget } from './redis-url';

export type { ShardOptions };

/** A URL the hash ring places keys on: anything but a cluster, which places them itself. */
export type RingTarget = Exclude<ShardTarget, ClusterTarget>;

function clientOptions(target: RingTarget, opts: ShardOptions): RedisOptions {
  const common: RedisOptions = {
    ...connectionOptions(target, opts),
    // The cache must fail fast to Postgres, never queue behind a reconnect.
    enableOfflineQueue: false,
    // After a Sentinel failover the old master turns replica: reconnect to find the new one.
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
    retryStrategy: reconnectDelay,
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

  constructor(target: RingTarget, opts: ShardOptions) {
    this.id = target.id;
    this.log = opts.logger.child({ component: 'redis', shard: target.id });
    this.breaker = new CircuitBreaker({
      cooldownMs: opts.cooldownMs ?? 1000,
      onChange: (from, to) => this.onBreaker(from, to),
    });
    this.client = new Redis(clientOptions(target, opts));
    const errors = new ConnectionErrorLog(this.log);
    // Emitted on every failed (re)connect; without a listener it would crash the process.
    this.client.on('error', (err: Error) => errors.report(err));
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
    const notReady = this.client.status === 'ready' ? undefined : `not connected (${this.client.status})`;
    return guarded(
      this.breaker,
      notReady,
      () => fn(this.client),
      (why) => this.unavailable(why),
    );
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
}
