/**
 * A Kv that times every operation and counts failures by kind into DataMetrics. Each Kv operation
 * of the Redis store is one round trip (one command, a MULTI or a script), so the operation's name
 * is the `command` label: a bounded set, fixed by the Kv interface. It wraps the Kv interface, not
 * a Redis client, so any Redis topology behind the Kv is measured the same way.
 */
import { performance } from 'node:perf_hooks';
import { NoonError } from '../errors';
import { processDataMetrics, type DataMetrics, type RedisErrorKind } from './data-metrics';
import type { Kv } from './kv';

type Operation = Exclude<keyof Kv, 'close'>;

/** Every operation of the Kv interface: the compiler says when one is missing or extra. */
const OPERATIONS: Record<Operation, true> = {
  get: true,
  set: true,
  setIfAbsent: true,
  del: true,
  incr: true,
  expire: true,
  hset: true,
  hget: true,
  hdel: true,
  hgetall: true,
  pushCapped: true,
  range: true,
  zincrby: true,
  zadd: true,
  zaddMany: true,
  zscore: true,
  zrevrank: true,
  zrevrange: true,
  zcard: true,
  logAppend: true,
  logRead: true,
};

export const KV_OPERATIONS = Object.keys(OPERATIONS) as Operation[];

export function redisErrorKind(err: unknown): RedisErrorKind {
  if (!(err instanceof NoonError)) return 'other';
  if (err.code === 'UNAVAILABLE') return /circuit open/.test(err.message) ? 'circuit_open' : 'unavailable';
  // the server answered and refused the command (WRONGTYPE and the like)
  if (err.code === 'INTERNAL') return 'reply';
  return 'other';
}

export function instrumentKv(kv: Kv, metrics: DataMetrics = processDataMetrics): Kv {
  const out: Partial<Record<keyof Kv, unknown>> = { close: () => kv.close() };
  for (const op of KV_OPERATIONS) {
    // initialised at zero: every operation has its series before its first use
    metrics.redisCommand.zero({ command: op });
    const timer = metrics.redisCommand.labels(op);
    const fn = kv[op] as (...args: unknown[]) => Promise<unknown>;
    out[op] = (...args: unknown[]): Promise<unknown> => {
      const started = performance.now();
      let pending: Promise<unknown>;
      try {
        pending = fn.apply(kv, args);
      } catch (err) {
        pending = Promise.reject(err);
      }
      return pending.then(
        (v) => {
          timer.observe((performance.now() - started) / 1000);
          return v;
        },
        (err: unknown) => {
          timer.observe((performance.now() - started) / 1000);
          metrics.redisErrors.inc({ kind: redisErrorKind(err) });
          throw err;
        },
      );
    };
  }
  return out as Kv;
}
