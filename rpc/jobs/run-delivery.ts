/**
 * Runs one claimed delivery (a job at a worker, an event at a subscribing service): in one
 * transaction, lock its row (gone: it completed already, this is a second delivery), run the
 * handler, delete the row. Effect and completion commit together, so a delivery repeated after a
 * crash, a lost message or a lease that ran out changes nothing twice. A failure is recorded
 * after the rollback: a refusal goes to the dead-letter table, anything else back to the queue
 * after a backoff, or to the dead-letter table once its attempts are used up.
 */
import { completeRow, deadRow, failRow, lockRunning } from '../../shared/data/outbox';
import { CommitUnknownError, type Db } from '../../shared/data/sql';
import { retryDelayMs, type BackoffPolicy } from '../../shared/jobs/backoff';
import type { Logger } from '../../shared/log';
import { isRefusal, type DeliveryHandler } from '../outbox-api';

/** done: ran now; duplicate: had run (or was released) already; unrecorded: the outcome could not be written, the lease brings it back. */
export type DeliveryOutcome = 'done' | 'duplicate' | 'retry' | 'refused' | 'exhausted' | 'unrecorded';

export interface Delivery {
  id: string;
  kind: string;
  attempt: number;
  enqueuedAt: Date;
  key: string | null;
  payload: Buffer;
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}

export async function runDelivery(
  db: Db,
  handler: DeliveryHandler,
  d: Delivery,
  backoff: BackoffPolicy,
  log: Logger,
): Promise<DeliveryOutcome> {
  try {
    const ran = await db.tx(async (q) => {
      if (!(await lockRunning(q, d.id))) return false;
      await handler.run(d.payload, {
        id: d.id,
        attempt: d.attempt,
        enqueuedAt: d.enqueuedAt,
        key: d.key,
        q,
        log,
      });
      await completeRow(q, d.id);
      return true;
    });
    return ran ? 'done' : 'duplicate';
  } catch (err) {
    const error = messageOf(err);
    // The commit may have landed: the row is gone then, and a later claim finds nothing to do.
    if (err instanceof CommitUnknownError) return 'unrecorded';
    try {
      if (isRefusal(err)) {
        const dead = await deadRow(db, d.id, 'refused', error);
        log.warn({ job: d.id, kind: d.kind, err: error }, 'delivery refused by its handler: dead-lettered');
        return dead ? 'refused' : 'duplicate';
      }
      const r = await db.tx((q) => failRow(q, d.id, error, retryDelayMs(d.attempt, backoff)));
      if (r === 'exhausted')
        log.warn(
          { job: d.id, kind: d.kind, attempts: d.attempt, err: error },
          'delivery failed its last attempt: dead-lettered',
        );
      else if (r === 'retry')
        log.info({ job: d.id, kind: d.kind, attempt: d.attempt, err: error }, 'delivery failed; retrying');
      return r === 'gone' ? 'duplicate' : r;
    } catch (recordErr) {
      log.warn({ job: d.id, err: error, recordErr: messageOf(recordErr) }, 'delivery failed and could not be recorded');
      return 'unrecorded';
    }
  }
}
