/**
 * Db over embedded PGlite (real Postgres compiled to WASM, in-process). It is the default when no
 * Postgres URL is configured, so `noon up` needs nothing installed. PGlite has exactly one
 * connection: every statement and every transaction goes through one mutex, so a transaction's
 * statements are never interleaved with another caller's.
 */
import { mkdirSync } from 'node:fs';
import { Mutex, PGlite } from '@electric-sql/pglite';

const INT8_OID = 20;
import type { Logger } from '../log';
import { NoonError } from '../errors';
import { lockDir } from './dir-lock';
import {
  beginStatement,
  checkSchemaName,
  runWithTxRetry,
  type Db,
  type Queryable,
  type QueryResult,
  type TxOptions,
  type TxRetryOptions,
} from './sql';

export interface PgliteDbOptions {
  /** Directory for the data files; undefined = in memory (gone at close). */
  dir?: string;
  logger: Logger;
  /** search_path for the one connection; created at start if missing. */
  schema?: string;
  txRetry?: TxRetryOptions;
}

interface PgliteResult<R> {
  rows: R[];
  rowCount?: number;
  affectedRows?: number;
}

function toResult<R>(r: PgliteResult<R> | undefined): QueryResult<R> {
  if (r === undefined) return { rows: [], rowCount: 0 };
  return { rows: r.rows, rowCount: r.rowCount ?? r.affectedRows ?? r.rows.length };
}

/** Without params the text may hold several statements (simple protocol), as with pg. */
async function runRaw<R>(db: PGlite, sql: string, params?: unknown[]): Promise<QueryResult<R>> {
  if (params === undefined || params.length === 0) {
    const all = await db.exec(sql);
    return toResult(all[all.length - 1] as PgliteResult<R> | undefined);
  }
  return toResult(await db.query<R>(sql, params));
}

export class PgliteDb implements Db {
  readonly kind = 'pglite' as const;
  private readonly mutex = new Mutex();
  private db: PGlite | undefined;
  private unlock: (() => void) | undefined;
  private readonly log: Logger;

  constructor(private readonly opts: PgliteDbOptions) {
    this.log = opts.logger.child({ component: 'pglite' });
  }

  async start(): Promise<void> {
    if (this.opts.dir !== undefined) {
      mkdirSync(this.opts.dir, { recursive: true });
      this.unlock = lockDir(this.opts.dir);
    }
    try {
      // int8 as text, as node-postgres returns it: the same code must see the same types on both.
      const db = await PGlite.create(this.opts.dir, { parsers: { [INT8_OID]: (text: string) => text } });
      if (this.opts.schema !== undefined) {
        const schema = checkSchemaName(this.opts.schema);
        await db.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}; SET search_path TO ${schema}`);
      }
      this.db = db;
    } catch (err) {
      this.releaseLock();
      throw err;
    }
    this.log.debug({ dir: this.opts.dir ?? 'memory' }, 'pglite ready');
  }

  private handle(): PGlite {
    if (this.db === undefined || this.db.closed)
      throw new NoonError('UNAVAILABLE', 'pglite is not started or is closed');
    return this.db;
  }

  query<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    return this.mutex.runExclusive(() => runRaw<R>(this.handle(), sql, params));
  }

  tx<T>(fn: (q: Queryable) => Promise<T>, opts?: TxOptions): Promise<T> {
    const begin = beginStatement(opts);
    return runWithTxRetry(() => this.mutex.runExclusive(() => this.attempt(begin, fn)), this.opts.txRetry);
  }

  /** One connection, in process: nothing is lost between sending and the answer. */
  autocommit<R>(sql: string, params: unknown[]): Promise<QueryResult<R>> {
    return runWithTxRetry(
      () => this.mutex.runExclusive(() => runRaw<R>(this.handle(), sql, params)),
      this.opts.txRetry,
    );
  }

  private async attempt<T>(begin: string, fn: (q: Queryable) => Promise<T>): Promise<T> {
    const db = this.handle();
    let open = true;
    // Statements after the transaction ended (a leaked promise inside fn) must not run outside it.
    const q: Queryable = {
      query: <R>(sql: string, params?: unknown[]) =>
        open
          ? runRaw<R>(db, sql, params)
          : Promise.reject(new NoonError('INTERNAL', 'query on a finished transaction')),
    };
    await db.exec(begin);
    try {
      const out = await fn(q);
      const [res] = await db.exec('COMMIT');
      // COMMIT of an aborted transaction answers ROLLBACK instead of failing.
      if (res !== undefined && (res as { command?: string }).command === 'ROLLBACK') {
        throw new NoonError('INTERNAL', 'transaction was aborted and rolled back at COMMIT');
      }
      return out;
    } catch (err) {
      await db.exec('ROLLBACK').catch((e: unknown) => this.log.warn({ err: String(e) }, 'pglite ROLLBACK failed'));
      throw err;
    } finally {
      open = false;
    }
  }

  async close(): Promise<void> {
    const db = this.db;
    if (db === undefined || db.closed) return this.releaseLock();
    // Waits for the statement or transaction in progress, then closes.
    await this.mutex.runExclusive(() => db.close());
    this.releaseLock();
  }

  private releaseLock(): void {
    this.unlock?.();
    this.unlock = undefined;
  }
}
