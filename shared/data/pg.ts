/**
 * Db over a node-postgres Pool, configured as docs/limits.md ("Data stores") says: short connect and
 * query timeouts so a stalled server fails calls instead of hanging them, server-side limits so a
 * forgotten transaction cannot hold locks forever, and an error listener on the pool and on every
 * checked-out client so one dropped connection never ends the process.
 */
import pg from 'pg';
import type { Logger } from '../log';
import { NoonError } from '../errors';
import {
  beginStatement,
  checkSchemaName,
  runWithTxRetry,
  sqlState,
  type Db,
  type Queryable,
  type QueryResult,
  type TxOptions,
  type TxRetryOptions,
} from './sql';

export interface PgDbOptions {
  url: string;
  logger: Logger;
  /** Every connection gets `search_path` = this schema; created at start if missing. */
  schema?: string;
  /** Pool size (default 20). */
  max?: number;
  /** Waiting for a connection, ms (default 5000). */
  connectionTimeoutMillis?: number;
  /** Client-side query_timeout and server-side statement_timeout, ms (default 2000). */
  queryTimeoutMs?: number;
  /**
   * Server ends a session idle inside a transaction this long, ms (default: half the statement
   * timeout). noon's transactions wait on nothing but their own statements, so one idle this long
   * belongs to a process that is gone, cut off or stalled, and its row locks would fail every
   * other instance's calls on those rows until it is ended; at half the statement timeout a call
   * waiting on those locks still gets them within its own.
   */
  idleInTxTimeoutMs?: number;
  /** Connections are replaced after this, so a failover behind a VIP is picked up (default 300). */
  maxLifetimeSeconds?: number;
  txRetry?: TxRetryOptions;
}

type PgRows<R> = { rows: R[]; rowCount: number | null };

/** A multi-statement simple query returns one result per statement; callers see the last one. */
function lastResult<R>(res: PgRows<R> | PgRows<R>[]): QueryResult<R> {
  const r = Array.isArray(res) ? res[res.length - 1] : res;
  return { rows: r?.rows ?? [], rowCount: r?.rowCount ?? 0 };
}

function runOn<R>(client: pg.Pool | pg.PoolClient, sql: string, params?: unknown[]): Promise<QueryResult<R>> {
  const values = params === undefined || params.length === 0 ? undefined : params;
  return client.query(sql, values).then((res) => lastResult<R>(res as unknown as PgRows<R> | PgRows<R>[]));
}

export class PgDb implements Db {
  readonly kind = 'pg' as const;
  private readonly pool: pg.Pool;
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly opts: PgDbOptions) {
    this.log = opts.logger.child({ component: 'pg' });
    const queryTimeout = opts.queryTimeoutMs ?? 2000;
    this.pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.max ?? 20,
      connectionTimeoutMillis: opts.connectionTimeoutMillis ?? 5000,
      query_timeout: queryTimeout,
      statement_timeout: queryTimeout,
      idle_in_transaction_session_timeout: opts.idleInTxTimeoutMs ?? Math.ceil(queryTimeout / 2),
      maxLifetimeSeconds: opts.maxLifetimeSeconds ?? 300,
      keepAlive: true,
      application_name: 'noon',
      // A startup parameter, so search_path is in force before the first query on every connection.
      options: opts.schema === undefined ? undefined : `-c search_path=${checkSchemaName(opts.schema)}`,
    });
    // An idle client whose server went away emits here; without a listener the process dies.
    this.pool.on('error', (err) => this.log.warn({ err: err.message }, 'idle pg connection failed'));
  }

  /** Checks the server answers and creates the schema if one was asked for. */
  async start(): Promise<void> {
    if (this.opts.schema === undefined) {
      await this.pool.query('SELECT 1');
      return;
    }
    try {
      await this.pool.query(`CREATE SCHEMA IF NOT EXISTS ${this.opts.schema}`);
    } catch (err) {
      // Two processes creating the same schema at once: the loser sees a unique violation.
      if (sqlState(err) !== '23505' && sqlState(err) !== '42P06') throw err;
    }
  }

  query<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    if (this.closed) return Promise.reject(new NoonError('UNAVAILABLE', 'database is closed'));
    return runOn<R>(this.pool, sql, params);
  }

  tx<T>(fn: (q: Queryable) => Promise<T>, opts?: TxOptions): Promise<T> {
    if (this.closed) return Promise.reject(new NoonError('UNAVAILABLE', 'database is closed'));
    const begin = beginStatement(opts);
    return runWithTxRetry((commitSent) => this.attempt(begin, fn, commitSent), this.opts.txRetry);
  }

  autocommit<R>(sql: string, params: unknown[]): Promise<QueryResult<R>> {
    if (this.closed) return Promise.reject(new NoonError('UNAVAILABLE', 'database is closed'));
    return runWithTxRetry((sent) => this.attemptOne<R>(sql, params, sent), this.opts.txRetry);
  }

  /** The connection is checked out first, so that a failure to get one is known to have sent nothing. */
  private async attemptOne<R>(sql: string, params: unknown[], sent: () => void): Promise<QueryResult<R>> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    const onError = (err: Error): void => {
      broken = err;
      this.log.warn({ err: err.message }, 'pg connection failed during a statement');
    };
    client.on('error', onError);
    try {
      sent();
      return await runOn<R>(client, sql, params);
    } catch (err) {
      // As pool.query does: a client whose statement failed is not trusted with the next one.
      broken ??= err instanceof Error ? err : new Error(String(err));
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken ?? false);
    }
  }

  private async attempt<T>(begin: string, fn: (q: Queryable) => Promise<T>, commitSent: () => void): Promise<T> {
    const client = await this.pool.connect();
    // A checked-out client has no pool listener; a connection drop between queries would throw.
    let broken: Error | undefined;
    const onError = (err: Error): void => {
      broken = err;
      this.log.warn({ err: err.message }, 'pg connection failed inside a transaction');
    };
    client.on('error', onError);
    const q: Queryable = { query: <R>(sql: string, params?: unknown[]) => runOn<R>(client, sql, params) };
    try {
      await client.query(begin);
      const out = await fn(q);
      commitSent();
      await client.query('COMMIT');
      return out;
    } catch (err) {
      if (broken === undefined) {
        await client.query('ROLLBACK').catch((e: unknown) => {
          broken = e instanceof Error ? e : new Error(String(e));
        });
      }
      throw err;
    } finally {
      client.off('error', onError);
      // A client that failed mid-transaction is destroyed, never handed to the next caller.
      client.release(broken ?? false);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  /** Drops the schema this Db was opened with (tests' throwaway schemas). */
  async dropSchema(): Promise<void> {
    if (this.opts.schema === undefined) return;
    await this.pool.query(`DROP SCHEMA IF EXISTS ${this.opts.schema} CASCADE`);
  }
}
