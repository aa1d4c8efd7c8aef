/**
 * A Db over a real one that can lose the answer of a statement it ran: the statement commits on
 * the server and the caller gets CommitUnknownError, as when pg's client-side timeout fires on an
 * autocommit write that landed. Shows what a service tells its caller when it cannot know.
 */
import { CommitUnknownError, type Db, type Queryable, type QueryResult, type TxOptions } from '../../shared/data/sql';

export class AnswerLosingDb implements Db {
  private losing?: RegExp;
  /** statements whose answer was lost */
  lost = 0;

  constructor(private readonly inner: Db) {}

  get kind(): Db['kind'] {
    return this.inner.kind;
  }

  /** The next autocommit statement matching `sql` runs, and its answer is lost. */
  loseNextAnswer(sql: RegExp): void {
    this.losing = sql;
  }

  query<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    return this.inner.query<R>(sql, params);
  }

  async autocommit<R>(sql: string, params: unknown[]): Promise<QueryResult<R>> {
    const r = await this.inner.autocommit<R>(sql, params);
    if (this.losing?.test(sql)) {
      this.losing = undefined;
      this.lost++;
      throw new CommitUnknownError(new Error('Query read timeout'));
    }
    return r;
  }

  tx<T>(fn: (q: Queryable) => Promise<T>, opts?: TxOptions): Promise<T> {
    return this.inner.tx(fn, opts);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
