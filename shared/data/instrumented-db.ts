/**
 * A Db that times every statement and transaction and counts failures by kind into DataMetrics.
 * Every store reaches the database through `Db.query` and `Db.tx`, so wrapping the Db that
 * openDb returns covers Postgres and PGlite alike without touching either driver.
 */
import { performance } from 'node:perf_hooks';
import { NoonError } from '../errors';
import { processDataMetrics, type DataMetrics, type DbErrorKind } from './data-metrics';
import {
  CommitUnknownError,
  isConflict,
  isConnectionLoss,
  sqlState,
  type Db,
  type Queryable,
  type QueryResult,
  type TxOptions,
} from './sql';

/** SQLSTATE 57014: statement_timeout (or a cancel); the rest are the driver's own timeouts. */
const TIMEOUT_MESSAGE = /timeout|timed out/i;

export function dbErrorKind(err: unknown): DbErrorKind {
  if (isConflict(err)) return 'conflict';
  const code = sqlState(err);
  if (code === '57014') return 'timeout';
  if (err instanceof CommitUnknownError) return 'connection';
  if (err instanceof NoonError && err.code === 'UNAVAILABLE') return 'closed';
  if (code?.startsWith('23')) return 'constraint';
  if (isConnectionLoss(err)) return 'connection';
  if (TIMEOUT_MESSAGE.test(err instanceof Error ? err.message : '')) return 'timeout';
  return 'other';
}

function timed<T>(m: DataMetrics, h: DataMetrics['dbQuery'], run: () => Promise<T>, countError: boolean): Promise<T> {
  const started = performance.now();
  const observe = (): void => h.observe((performance.now() - started) / 1000);
  let p: Promise<T>;
  try {
    p = run();
  } catch (err) {
    p = Promise.reject(err);
  }
  return p.then(
    (out) => {
      observe();
      return out;
    },
    (err: unknown) => {
      observe();
      if (countError) m.dbErrors.inc({ kind: dbErrorKind(err) });
      throw err;
    },
  );
}

class InstrumentedDb implements Db {
  constructor(
    private readonly inner: Db,
    private readonly m: DataMetrics,
  ) {}

  get kind(): Db['kind'] {
    return this.inner.kind;
  }

  query<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    return timed(this.m, this.m.dbQuery, () => this.inner.query<R>(sql, params), true);
  }

  tx<T>(fn: (q: Queryable) => Promise<T>, opts?: TxOptions): Promise<T> {
    const run = (): Promise<T> =>
      this.inner.tx((q) => {
        // statements inside are timed, their failures counted once, by the transaction
        const timedQ: Queryable = {
          query: <R>(sql: string, params?: unknown[]) =>
            timed(this.m, this.m.dbQuery, () => q.query<R>(sql, params), false),
        };
        return fn(timedQ);
      }, opts);
    return timed(this.m, this.m.dbTransaction, run, true);
  }

  /** A statement that is its own transaction (a wallet write): timed as a statement and as a transaction. */
  autocommit<R>(sql: string, params: unknown[]): Promise<QueryResult<R>> {
    const statement = (): Promise<QueryResult<R>> =>
      timed(this.m, this.m.dbQuery, () => this.inner.autocommit<R>(sql, params), false);
    return timed(this.m, this.m.dbTransaction, statement, true);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export function instrumentDb(db: Db, metrics: DataMetrics = processDataMetrics): Db {
  return new InstrumentedDb(db, metrics);
}
