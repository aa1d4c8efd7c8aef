/**
 * Latency and errors of the process's Db and Kv, as Prometheus metrics. The data handles belong to
 * the process, not to a role: `noon up` shares one Db and one Kv among all its components. So
 * these are process metrics: one set per process, not registered anywhere by default, and
 * exported by the one component of the process that carries the process metrics
 * (`Metrics` with `defaults` on), so each process reports them exactly once.
 */
import { Counter, Histogram, type Metric } from 'prom-client';

/** How a failed Db query or transaction failed, from its SQLSTATE or the driver's message. */
export const DB_ERROR_KINDS = ['conflict', 'connection', 'timeout', 'constraint', 'closed', 'other'] as const;
export type DbErrorKind = (typeof DB_ERROR_KINDS)[number];

/** How a failed Redis command failed: breaker open, server gone or slow, the server refused it. */
export const REDIS_ERROR_KINDS = ['circuit_open', 'unavailable', 'reply', 'other'] as const;
export type RedisErrorKind = (typeof REDIS_ERROR_KINDS)[number];

const BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class DataMetrics {
  /** every SQL statement, alone or inside a transaction, as long as its caller waited */
  readonly dbQuery = new Histogram({
    name: 'noon_db_query_duration_seconds',
    help: 'SQL statement latency (Postgres or PGlite), each statement alone or inside a transaction',
    buckets: BUCKETS,
    registers: [],
  });
  /** a whole transaction (or a statement that is one), retries included */
  readonly dbTransaction = new Histogram({
    name: 'noon_db_transaction_duration_seconds',
    help: 'transaction latency from BEGIN to COMMIT (or of one autocommit statement), retries included',
    buckets: BUCKETS,
    registers: [],
  });
  readonly dbErrors = new Counter({
    name: 'noon_db_errors_total',
    help: 'queries and transactions that failed as their caller saw them, by kind',
    labelNames: ['kind'],
    registers: [],
  });
  readonly redisCommand = new Histogram({
    name: 'noon_redis_command_duration_seconds',
    help: 'Redis command latency by Kv operation (one round trip each)',
    labelNames: ['command'],
    buckets: BUCKETS,
    registers: [],
  });
  readonly redisErrors = new Counter({
    name: 'noon_redis_errors_total',
    help: 'Redis commands that failed, by kind (circuit_open, unavailable, reply, other)',
    labelNames: ['kind'],
    registers: [],
  });

  constructor() {
    // Initialised at zero, so a rate() or an error ratio exists before the first failure.
    for (const kind of DB_ERROR_KINDS) this.dbErrors.inc({ kind }, 0);
    for (const kind of REDIS_ERROR_KINDS) this.redisErrors.inc({ kind }, 0);
  }

  /** Everything here, for a registry to adopt. */
  all(): Metric[] {
    return [this.dbQuery, this.dbTransaction, this.dbErrors, this.redisCommand, this.redisErrors];
  }
}

/** The process's one set (see the header: data handles are per process). */
export const processDataMetrics = new DataMetrics();
