/**
 * What every Redis client of the Kv shares, whether it talks to one shard or to a cluster: the
 * connection settings of docs/limits.md ("Data stores"), and one rule for running a command
 * through a circuit breaker. A command either answers, or rejects with NoonError UNAVAILABLE
 * within about the command timeout (first failure) or at once (breaker open, or not connected:
 * the offline queue is off, so nothing waits for a reconnect).
 */
import type { RedisOptions } from 'ioredis';
import type { Logger } from '../log';
import { NoonError } from '../errors';
import type { CircuitBreaker } from './breaker';

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

/** Reconnect backoff, ms: 100 ms doubling to 2 s. */
export const reconnectDelay = (times: number): number => Math.min(50 * 2 ** Math.min(times, 6), 2000);

/** Options of every connection to a Redis server (a shard, or a node of a cluster). */
export function connectionOptions(creds: { username?: string; password?: string }, opts: ShardOptions): RedisOptions {
  return {
    username: creds.username,
    password: creds.password,
    commandTimeout: opts.commandTimeoutMs ?? 500,
    connectTimeout: opts.connectTimeoutMs ?? 1000,
    maxRetriesPerRequest: 1,
    // A command the caller already saw fail must not be replayed later (incr/zincrby would double).
    autoResendUnfulfilledCommands: false,
    protocol: 2,
  };
}

/**
 * Runs fn through breaker; `notReady` (why the client cannot send now) fails at once. A reply
 * error other than "cannot serve now" proves the server healthy: the command was wrong.
 */
export async function guarded<T>(
  breaker: CircuitBreaker,
  notReady: string | undefined,
  fn: () => Promise<T>,
  unavailable: (why: string) => NoonError,
): Promise<T> {
  if (!breaker.allow()) throw unavailable(`circuit open, next probe in ${breaker.retryInMs()} ms`);
  if (notReady !== undefined) {
    breaker.failure();
    throw unavailable(notReady);
  }
  try {
    const out = await fn();
    breaker.success();
    return out;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (isReplyError(err) && !UNAVAILABLE_REPLY.test(msg)) {
      breaker.success();
      throw new NoonError('INTERNAL', msg, false);
    }
    breaker.failure();
    throw unavailable(msg);
  }
}

/** A dead server errors on every reconnect attempt: one warn per 10 s, the rest at debug. */
export class ConnectionErrorLog {
  private last = 0;

  constructor(private readonly log: Logger) {}

  report(err: Error): void {
    const now = Date.now();
    if (now - this.last >= 10_000) {
      this.last = now;
      this.log.warn({ err: err.message }, 'redis connection error');
    } else {
      this.log.debug({ err: err.message }, 'redis connection error');
    }
  }
}
