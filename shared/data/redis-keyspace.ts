/**
 * Where RedisKv's commands go: a ring of shards (redis-ring.ts) or one Redis Cluster
 * (redis-cluster.ts). Either way an operation names all its keys, so the keyspace can send it to
 * the one server that holds them all, or refuse it when they cannot be together.
 */
import type { Cluster, Redis } from 'ioredis';

/** One server's client, or a cluster's (which routes each command by its first key). */
export type RedisCommands = Redis | Cluster;

export interface RedisKeyspace {
  /**
   * Runs fn on the client that owns `keys` (as the Kv's callers name them, before the key
   * prefix); rejects with NoonError UNAVAILABLE when that server cannot serve now.
   */
  run<T>(keys: readonly string[], fn: (c: RedisCommands) => Promise<T>): Promise<T>;
  /** Which server owns key, in the ids health() uses. */
  ownerOf(key: string): string;
  /** Waits up to deadlineMs for the servers; those still down are logged and keep reconnecting. */
  start(deadlineMs: number): Promise<void>;
  close(): Promise<void>;
  /** Breaker state per server. */
  health(): Record<string, string>;
}
