/**
 * The SQL surface every store uses. Postgres is the truth (docs/architecture.md, "Data"); the same interface
 * is implemented over a `pg.Pool` (pg.ts) and over embedded PGlite (pglite.ts), so one set of
 * store functions and migrations runs on both.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { NoonError } from '../errors';

export interface QueryResult<R> {
  rows: R[];
  /** Rows returned by a SELECT or changed by INSERT/UPDATE/DELETE (0 when the server says none). */
  rowCount: number;
}

/**
 * Something that runs SQL: the database itself or an open transaction. Store functions take a
 * Queryable so that a debit and its ledger row can share one transaction.
 * With no params (or an empty array) the text may hold several statements (simple protocol);
 * with params it must be exactly one statement. Always pass values as params, never splice them.
 */
export interface Queryable {
  query<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
}

export type Isolation = 'read committed' | 'repeatable read' | 'serializable';

export interface TxOptions {
  isolation?: Isolation;
}

export interface Db extends Queryable {
  /**
   * Runs fn inside BEGIN/COMMIT; any throw rolls back and rethrows. On a serialization failure or
   * deadlock (40001, 40P01), or a connection loss before COMMIT was sent, the whole transaction is
   * retried a bounded number of times with jittered backoff, so fn may run more than once: it must
   * only touch the database through `q`. Inside fn, use `q`, never the Db itself (PGlite has one
   * connection, so a Db call inside fn waits for fn forever).
   */
  tx<T>(fn: (q: Queryable) => Promise<T>, opts?: TxOptions): Promise<T>;
  /**
   * Runs one statement as a transaction of its own (autocommit, one round trip), with tx's
   * outcome rules: retried on a serialization failure or deadlock, or a connection loss before
   * the statement was sent; a connection loss after it was sent is CommitUnknownError, since the
   * statement is its own COMMIT and may have landed. For writes that must be all or nothing in
   * one statement (e.g. a SQL function doing a whole wallet operation).
   */
  autocommit<R>(sql: string, params: unknown[]): Promise<QueryResult<R>>;
  close(): Promise<void>;
  readonly kind: 'pg' | 'pglite';
}

export interface TxRetryOptions {
  /** Attempts in all, the first included (default 5). */
  attempts?: number;
  /** Backoff before retry n is a random value in [0, baseMs * 2^n), capped at maxMs. */
  baseMs?: number;
  maxMs?: number;
}

/** Postgres SQLSTATEs after which re-running the whole transaction is safe and useful. */
const CONFLICT_CODES: ReadonlySet<string> = new Set(['40001', '40P01']);
/**
 * The server went away or refused work (admin shutdown, cannot connect now, read-only after a
 * failover), or ended a session left idle inside a transaction (25P03: the server's
 * idle_in_transaction_session_timeout, which a process stalled on a loaded host can meet between
 * two statements). Retrying is safe only when COMMIT was never sent: the server then rolled back.
 */
const CONNECTION_CODES: ReadonlySet<string> = new Set([
  '57P01',
  '57P02',
  '57P03',
  '25006',
  '25P03',
  '08000',
  '08003',
  '08006',
]);
const NODE_CONNECTION_ERRNOS: ReadonlySet<string> = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']);

export function sqlState(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

export function isConflict(err: unknown): boolean {
  const code = sqlState(err);
  return code !== undefined && CONFLICT_CODES.has(code);
}

export function isConnectionLoss(err: unknown): boolean {
  const code = sqlState(err);
  if (code !== undefined && (CONNECTION_CODES.has(code) || NODE_CONNECTION_ERRNOS.has(code))) return true;
  const msg = err instanceof Error ? err.message : '';
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(msg);
}

/** The driver stopped waiting for an answer (pg's client-side query_timeout); the server may still run it. */
export function isReadTimeout(err: unknown): boolean {
  return /Query read timeout/i.test(err instanceof Error ? err.message : '');
}

/**
 * Thrown by a tx attempt whose COMMIT (or an autocommit statement) was sent but not answered:
 * the connection was lost, or the driver stopped waiting. The write may have landed, so the
 * caller is told TIMEOUT, the code that means "outcome unknown", never a failure.
 */
export class CommitUnknownError extends NoonError {
  constructor(override readonly cause: unknown) {
    super('TIMEOUT', `transaction outcome unknown: no answer to COMMIT (${String(cause)})`, true);
  }
}

/**
 * One transaction attempt: `run(signalCommitSent)` must call the callback right before it sends
 * COMMIT, so that a connection loss after that point is not retried (the write may have landed).
 */
export type TxAttempt<T> = (commitSent: () => void) => Promise<T>;

/** Runs attempts until one succeeds, the error is not retryable, or attempts run out. */
export async function runWithTxRetry<T>(attempt: TxAttempt<T>, opts: TxRetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 5;
  const baseMs = opts.baseMs ?? 5;
  const maxMs = opts.maxMs ?? 200;
  for (let n = 0; ; n++) {
    let committing = false;
    try {
      return await attempt(() => {
        committing = true;
      });
    } catch (err) {
      if (committing && (isConnectionLoss(err) || isReadTimeout(err))) throw new CommitUnknownError(err);
      const retryable = isConflict(err) || (!committing && isConnectionLoss(err));
      if (!retryable || n + 1 >= attempts) throw err;
      await sleep(Math.random() * Math.min(maxMs, baseMs * 2 ** (n + 1)));
    }
  }
}

export function beginStatement(opts: TxOptions | undefined): string {
  const iso = opts?.isolation;
  if (iso === undefined) return 'BEGIN';
  if (iso !== 'read committed' && iso !== 'repeatable read' && iso !== 'serializable') {
    throw new NoonError('INTERNAL', `unknown isolation level ${JSON.stringify(iso)}`);
  }
  return `BEGIN ISOLATION LEVEL ${iso.toUpperCase()}`;
}

/** Schema names are spliced into SQL and connection options, so only plain identifiers pass. */
export function checkSchemaName(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new NoonError('INTERNAL', `schema name ${JSON.stringify(schema)} must match [a-z_][a-z0-9_]{0,62}`);
  }
  return schema;
}
