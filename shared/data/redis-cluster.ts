/**
 * A keyspace on one Redis Cluster (ioredis `Cluster`): the cluster places each key in a hash slot
 * (key-slot.ts) and the client sends each command to the master of its slot, following the
 * cluster through failovers (its slot map is refreshed every second and on every redirect).
 *
 * Behaves as a ring of shards does (redis-shard.ts): one circuit breaker per master, so a dead
 * master's slots fail fast with UNAVAILABLE (callers fall back to Postgres) while the others keep
 * serving, and its replica, once promoted, is a new master with a closed breaker. An operation
 * whose keys span slots is refused before it is sent: its keys must share a `{tag}`, and the key
 * prefix must have no braces (it would become every key's tag and put all keys in one slot).
 */
import { Cluster, type ClusterOptions } from 'ioredis';
import type { Logger } from '../log';
import { NoonError } from '../errors';
import { CircuitBreaker } from './breaker';
import { keySlot, operationSlot } from './key-slot';
import { ConnectionErrorLog, connectionOptions, guarded, reconnectDelay, type ShardOptions } from './redis-guard';
import type { RedisCommands, RedisKeyspace } from './redis-keyspace';
import type { ClusterTarget } from './redis-url';

/** Breaker id of the slots the client has no master for yet (before the first slot map). */
const UNMAPPED = 'unmapped';

/** A brace in the prefix would be every key's {tag}: all keys in one slot, on one master. */
export function checkClusterPrefix(prefix: string): void {
  if (/[{}]/.test(prefix))
    throw new NoonError(
      'INTERNAL',
      `key prefix ${JSON.stringify(prefix)} has a brace: in Redis Cluster it would be every key's {tag} and put all keys in one slot`,
      false,
    );
}

export function clusterOptions(target: ClusterTarget, opts: ShardOptions): ClusterOptions {
  return {
    redisOptions: { ...connectionOptions(target, opts), tls: target.tls ? {} : undefined },
    // The cache must fail fast to Postgres, never queue behind a reconnect.
    enableOfflineQueue: false,
    scaleReads: 'master',
    // A command lost with its connection may have run: failing it (never resending it elsewhere)
    // keeps incr/hincrby from counting twice. MOVED/ASK/TRYAGAIN were refused, so resending is safe.
    retryDelayOnFailover: 0,
    // CLUSTERDOWN (a master failed, its replica not promoted yet) fails at once: callers fall back.
    retryDelayOnClusterDown: 0,
    slotsRefreshInterval: 1000,
    slotsRefreshTimeout: opts.commandTimeoutMs ?? 500,
    clusterRetryStrategy: reconnectDelay,
    // Behind TLS, nodes are named by host (certificates name hosts, not addresses).
    dnsLookup: target.tls ? (address, callback) => callback(null, address) : undefined,
  };
}

export class ClusterKeyspace implements RedisKeyspace {
  readonly client: Cluster;
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly log: Logger;

  constructor(
    readonly target: ClusterTarget,
    private readonly opts: ShardOptions & { keyPrefix: string },
  ) {
    checkClusterPrefix(opts.keyPrefix);
    this.log = opts.logger.child({ component: 'redis', cluster: target.id });
    this.client = new Cluster(target.nodes, clusterOptions(target, opts));
    const errors = new ConnectionErrorLog(this.log);
    // Emitted on every failed (re)connect; without a listener it would crash the process.
    this.client.on('error', (err: Error) => errors.report(err));
    this.client.on('node error', (err: Error) => errors.report(err));
    // A lost node may be a failed master: ask the survivors for the slot map now.
    this.client.on('-node', () => this.client.refreshSlotsCache());
  }

  run<T>(keys: readonly string[], fn: (c: RedisCommands) => Promise<T>): Promise<T> {
    let slot: number;
    try {
      slot = operationSlot(keys.map((k) => this.opts.keyPrefix + k));
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const owner = this.masterOf(slot);
    const notReady = this.client.status === 'ready' ? undefined : `not connected (${this.client.status})`;
    return guarded(
      this.breakerFor(owner),
      notReady,
      () => fn(this.client),
      (why) => new NoonError('UNAVAILABLE', `redis cluster node ${owner} (slot ${slot}): ${why}`),
    );
  }

  ownerOf(key: string): string {
    return this.masterOf(keySlot(this.opts.keyPrefix + key));
  }

  async start(deadlineMs: number): Promise<void> {
    if (this.client.status === 'ready') return;
    const ready = await new Promise<boolean>((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        resolve(ok);
      };
      const onReady = (): void => done(true);
      const timer = setTimeout(() => done(false), deadlineMs);
      this.client.on('ready', onReady);
    });
    if (!ready) this.log.warn('redis cluster not ready at start; its keys fail fast until it is');
  }

  async close(): Promise<void> {
    if (this.client.status === 'end') return;
    try {
      await this.client.quit();
    } catch {
      // quit fails when the connections are already gone; disconnect stops any reconnect loop.
      this.client.disconnect();
    }
  }

  health(): Record<string, string> {
    const out: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [id, b] of this.breakers) out[id] = b.state;
    return out;
  }

  /** The master ("host:port") the client sends slot's commands to now. */
  private masterOf(slot: number): string {
    return this.client.slots[slot]?.[0] ?? UNMAPPED;
  }

  private breakerFor(node: string): CircuitBreaker {
    let b = this.breakers.get(node);
    if (b === undefined) {
      const log = this.log.child({ node });
      b = new CircuitBreaker({
        cooldownMs: this.opts.cooldownMs ?? 1000,
        onChange: (from, to) => {
          if (to === 'open' && from === 'closed')
            log.warn('cluster node failed; skipping its slots until a probe succeeds');
          else if (to === 'closed') log.info('cluster node recovered');
        },
      });
      this.breakers.set(node, b);
    }
    return b;
  }
}
