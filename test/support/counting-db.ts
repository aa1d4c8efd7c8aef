/**
 * A Db that records every round trip it makes to the server, so a test can assert how many
 * statements an operation costs: a query or an autocommit statement is one, a transaction is its
 * BEGIN, each statement inside, and its COMMIT (or ROLLBACK).
 */
import type { Db, Queryable, QueryResult, TxOptions } from '../../shared/data/sql';

export interface RoundTrip {
  /** how it was sent: alone, alone as its own transaction, or inside tx */
  via: 'query' | 'autocommit' | 'tx';
  sql: string;
}

export class CountingDb implements Db {
  readonly trips: RoundTrip[] = [];

  constructor(private readonly inner: Db) {}

  get kind(): Db['kind'] {
    return this.inner.kind;
  }

  query<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    this.trips.push({ via: 'query', sql });
    return this.inner.query<R>(sql, params);
  }

  autocommit<R>(sql: string, params: unknown[]): Promise<QueryResult<R>> {
    this.trips.push({ via: 'autocommit', sql });
    return this.inner.autocommit<R>(sql, params);
  }

  async tx<T>(fn: (q: Queryable) => Promise<T>, opts?: TxOptions): Promise<T> {
    return this.inner.tx(async (q) => {
      this.trips.push({ via: 'tx', sql: 'BEGIN' });
      const counted: Queryable = {
        query: <R>(sql: string, params?: unknown[]) => {
          this.trips.push({ via: 'tx', sql });
          return q.query<R>(sql, params);
        },
      };
      try {
        return await fn(counted);
      } finally {
        this.trips.push({ via: 'tx', sql: 'COMMIT or ROLLBACK' });
      }
    }, opts);
  }

  /** The round trips made since the last call (and forgets them). */
  take(): RoundTrip[] {
    return this.trips.splice(0);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
