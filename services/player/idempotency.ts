/**
 * Exactly-once mutations. `once` runs an operation inside one transaction that first locks the
 * player's row, so every mutation of one player is serialised (across instances: the lock is in
 * Postgres). Under that lock it looks up (user, key): a recorded outcome is replayed as is; else
 * the operation runs and its outcome — success or game refusal — is recorded in the same
 * transaction. A retry therefore gets the first outcome, and the PRIMARY KEY (user_id, key)
 * backs this up should the lock ever be bypassed: the second transaction then fails as a whole
 * instead of applying twice.
 *
 * A refusal (e.g. INSUFFICIENT_FUNDS) is recorded too: the same key answers the same refusal
 * even after the player earns more; the client uses a new key for a new attempt. The refused
 * operation's writes are rolled back to a savepoint first, so a refusal changes nothing.
 * Input errors (BAD_REQUEST) are raised before `once` and are not recorded.
 */
import type { Db, Queryable } from '../../shared/data/sql';
import { ErrorCode, GameError } from '../../shared/protocol';
import { lockPlayer, type ProfileRow } from './store';

export interface OnceSpec {
  userId: string;
  /** scoped key: "c:<client key>", "g:<grant key>", "receipt:<receipt id>" */
  key: string;
  /** the operation's name: a key reused for another operation is a CONFLICT */
  op: string;
  /** the request's parameters: a key reused with other parameters is a CONFLICT */
  fingerprint: string;
}

export interface OnceResult<T> {
  value: T;
  /** false when the outcome was replayed from an earlier call */
  applied: boolean;
}

export type Recorded<T> = { ok: T } | { refused: { code: ErrorCode; message: string } };

export interface RawRecord {
  op: string;
  fingerprint: string;
  response: string;
}

/** A recorded outcome for spec's key: CONFLICT when it was another request, else its value or its refusal. */
export function replay<T>(spec: OnceSpec, rec: RawRecord): T {
  if (rec.op !== spec.op || rec.fingerprint !== spec.fingerprint) {
    throw new GameError({
      code: ErrorCode.CONFLICT,
      message: `idempotency key was already used for a different request (${rec.op})`,
      retryable: false,
    });
  }
  const out = JSON.parse(rec.response) as Recorded<T>;
  if ('ok' in out) return out.ok;
  throw new GameError({ code: out.refused.code, message: out.refused.message, retryable: false });
}

async function record(q: Queryable, spec: OnceSpec, outcome: Recorded<unknown>): Promise<void> {
  await q.query(
    'INSERT INTO player_idempotency (user_id, key, op, fingerprint, response) VALUES ($1, $2, $3, $4, $5)',
    [spec.userId, spec.key, spec.op, spec.fingerprint, JSON.stringify(outcome)],
  );
}

/** Runs fn (under savepoint) and records its outcome; a game refusal is recorded, then rethrown. */
async function runAndRecord<T>(
  q: Queryable,
  spec: OnceSpec,
  player: ProfileRow,
  fn: (q: Queryable, p: ProfileRow) => Promise<T>,
): Promise<Recorded<T>> {
  await q.query('SAVEPOINT player_op');
  try {
    const value = await fn(q, player);
    await record(q, spec, { ok: value });
    return { ok: value };
  } catch (err) {
    if (!(err instanceof GameError) || err.code === undefined) throw err;
    await q.query('ROLLBACK TO SAVEPOINT player_op');
    const refused = { code: err.code, message: err.message ?? '' };
    await record(q, spec, { refused });
    return { refused };
  }
}

/**
 * Applies fn once per (userId, key). NOT_FOUND when the player does not exist (nothing recorded).
 * fn must touch the database only through the Queryable it gets (it may run more than once when
 * the transaction is retried after a serialisation failure).
 */
export async function once<T>(
  db: Db,
  spec: OnceSpec,
  fn: (q: Queryable, p: ProfileRow) => Promise<T>,
): Promise<OnceResult<T>> {
  const out = await db.tx(async (q): Promise<{ rec: Recorded<T>; applied: boolean }> => {
    const player = await lockPlayer(q, spec.userId);
    if (player === undefined)
      throw new GameError({ code: ErrorCode.NOT_FOUND, message: 'no player profile for this user', retryable: false });
    const prior = await q.query<RawRecord>(
      'SELECT op, fingerprint, response FROM player_idempotency WHERE user_id = $1 AND key = $2',
      [spec.userId, spec.key],
    );
    const rec = prior.rows[0];
    if (rec !== undefined) return { rec: { ok: replay<T>(spec, rec) }, applied: false };
    return { rec: await runAndRecord(q, spec, player, fn), applied: true };
  });
  if ('refused' in out.rec)
    throw new GameError({ code: out.rec.refused.code, message: out.rec.refused.message, retryable: false });
  return { value: out.rec.ok, applied: out.applied };
}
