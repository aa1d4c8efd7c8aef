/**
 * SQL of the job and event outbox (`noon_jobs`), shared by every service, the worker role and
 * the event consumers. A row is one delivery owed to one consumer: `worker` for a job, the
 * subscribing service's role for an event (one row per subscribing service: its consumer group).
 *
 *   queued ──(claimed by a dispatcher or consumer, lease)──► running ──(handler's tx commits)──► deleted
 *     ▲                                                        │
 *     └──(handler failed: backoff; or the claimer left)────────┤
 *                                            (refused, or attempts used up) ──► noon_jobs_dead
 *
 * A row is deleted in the same transaction as the handler's effect, so the row's absence is the
 * proof the job ran: a second delivery of the same job finds nothing and changes nothing. Times
 * are the database's (`now()`), never a host's clock.
 */
import type { Queryable } from './sql';

/**
 * Migrations of the outbox (`{ id, sql }` like any Migration), applied by migrate() under its own
 * scope before any service's.
 */
export const OUTBOX_MIGRATIONS: readonly { readonly id: string; readonly sql: string }[] = [
  {
    id: '001_jobs',
    sql: `
CREATE TABLE IF NOT EXISTS noon_jobs (
  id bigserial PRIMARY KEY,
  -- who runs it: 'worker' (jobs) or a subscribing service's role (events)
  consumer text NOT NULL,
  -- the job's or event's name: which handler decodes and runs the payload
  kind text NOT NULL,
  payload bytea NOT NULL,
  -- rows of one consumer with the same key run one at a time, in id order
  order_key text,
  state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running')),
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL CHECK (max_attempts > 0),
  next_at timestamptz NOT NULL DEFAULT now(),
  claimed_by text,
  lease_until timestamptz,
  last_error text,
  enqueued_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS noon_jobs_due ON noon_jobs (consumer, next_at) WHERE state = 'queued';
CREATE INDEX IF NOT EXISTS noon_jobs_claimed ON noon_jobs (claimed_by) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS noon_jobs_keyed ON noon_jobs (consumer, order_key, id) WHERE order_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS noon_jobs_dead (
  id bigint PRIMARY KEY,
  consumer text NOT NULL,
  kind text NOT NULL,
  payload bytea NOT NULL,
  order_key text,
  attempts integer NOT NULL,
  -- refused: the handler said the job can never succeed; exhausted: max_attempts failures
  reason text NOT NULL CHECK (reason IN ('refused', 'exhausted')),
  error text NOT NULL,
  enqueued_at timestamptz NOT NULL,
  died_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS noon_event_subscriptions (
  event text NOT NULL,
  consumer text NOT NULL,
  since timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event, consumer)
);`,
  },
];

/** The consumer of jobs: every worker instance. */
export const WORKER_CONSUMER = 'worker';

export interface NewRow {
  kind: string;
  payload: Buffer;
  key?: string | undefined;
  delayMs?: number | undefined;
  maxAttempts: number;
}

/** Enqueues one job for the workers; returns its id. */
export async function insertJob(q: Queryable, row: NewRow): Promise<string> {
  const r = await q.query<{ id: string }>(
    `INSERT INTO noon_jobs (consumer, kind, payload, order_key, max_attempts, next_at)
     VALUES ($1, $2, $3, $4, $5, now() + $6::double precision * interval '1 millisecond') RETURNING id::text AS id`,
    [WORKER_CONSUMER, row.kind, row.payload, row.key ?? null, row.maxAttempts, row.delayMs ?? 0],
  );
  return r.rows[0]?.id ?? '';
}

/** Publishes one event: a row for each service subscribed to it. Returns how many. */
export async function insertEvent(q: Queryable, row: NewRow): Promise<number> {
  const r = await q.query(
    `INSERT INTO noon_jobs (consumer, kind, payload, order_key, max_attempts, next_at)
     SELECT consumer, $1, $2, $3, $4, now() + $5::double precision * interval '1 millisecond'
       FROM noon_event_subscriptions WHERE event = $1 ORDER BY consumer`,
    [row.kind, row.payload, row.key ?? null, row.maxAttempts, row.delayMs ?? 0],
  );
  return r.rowCount;
}

/** Records that `consumer` receives `events` from now on (idempotent). */
export async function subscribeConsumer(q: Queryable, consumer: string, events: readonly string[]): Promise<void> {
  if (events.length === 0) return;
  await q.query(
    `INSERT INTO noon_event_subscriptions (event, consumer) SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING`,
    [[...events], consumer],
  );
}

export interface ClaimedRow {
  id: string;
  consumer: string;
  kind: string;
  payload: Buffer;
  key: string | null;
  /** this attempt's number, 1 for the first */
  attempt: number;
  maxAttempts: number;
  enqueuedAt: Date;
}

interface RawRow {
  id: string;
  consumer: string;
  kind: string;
  payload: Buffer | Uint8Array;
  order_key: string | null;
  attempts: number;
  max_attempts: number;
  enqueued_at: Date | string;
}

const COLS = 'id::text AS id, consumer, kind, payload, order_key, attempts, max_attempts, enqueued_at';

function toClaimed(r: RawRow): ClaimedRow {
  return {
    id: r.id,
    consumer: r.consumer,
    kind: r.kind,
    payload: Buffer.from(r.payload),
    key: r.order_key,
    attempt: Number(r.attempts),
    maxAttempts: Number(r.max_attempts),
    enqueuedAt: new Date(r.enqueued_at),
  };
}

export interface Claim {
  consumer: string;
  /** the claimer's instance id */
  me: string;
  /** the kinds the claimer can run: rows of other kinds wait for one that can */
  kinds: readonly string[];
  /** claimers still in the cluster: a row claimed by anyone else is taken over at once */
  live: readonly string[];
  leaseMs: number;
  limit: number;
}

/**
 * Claims up to `limit` rows: due queued rows, and running rows whose lease ran out or whose
 * claimer left the cluster (unless a handler holds their lock: SKIP LOCKED). A keyed row is
 * claimable only when no earlier row of its consumer and key is left, so a key's rows run one
 * at a time, in order. Each claim counts an attempt.
 */
export async function claimRows(q: Queryable, c: Claim): Promise<ClaimedRow[]> {
  if (c.limit <= 0 || c.kinds.length === 0) return [];
  const r = await q.query<RawRow>(
    `UPDATE noon_jobs SET state = 'running', claimed_by = $2, attempts = attempts + 1,
       lease_until = now() + $5::double precision * interval '1 millisecond'
     WHERE id IN (
       SELECT j.id FROM noon_jobs j
        WHERE j.consumer = $1 AND j.kind = ANY($3::text[])
          AND ((j.state = 'queued' AND j.next_at <= now())
            OR (j.state = 'running' AND (j.lease_until < now() OR NOT (j.claimed_by = ANY($4::text[])))))
          AND (j.order_key IS NULL OR NOT EXISTS (
            SELECT 1 FROM noon_jobs o WHERE o.consumer = j.consumer AND o.order_key = j.order_key AND o.id < j.id))
        ORDER BY j.id LIMIT $6 FOR UPDATE SKIP LOCKED)
     RETURNING ${COLS}`,
    [c.consumer, c.me, [...c.kinds], [...c.live], c.leaseMs, c.limit],
  );
  return r.rows.map(toClaimed).sort((a, b) => Number(BigInt(a.id) - BigInt(b.id)));
}

/**
 * Locks a claimed row for its handler's transaction; false when it is gone (done already: this
 * is a second delivery) or back in the queue (released; a later claim delivers it again).
 */
export async function lockRunning(q: Queryable, id: string): Promise<boolean> {
  const r = await q.query(`SELECT 1 FROM noon_jobs WHERE id = $1 AND state = 'running' FOR UPDATE`, [id]);
  return r.rowCount > 0;
}

/** The job ran: in the handler's transaction, so its effect and its completion commit together. */
export async function completeRow(q: Queryable, id: string): Promise<void> {
  await q.query('DELETE FROM noon_jobs WHERE id = $1', [id]);
}

/** After a failed attempt: back in the queue after `retryMs`, or dead when its attempts are used up. */
export async function failRow(
  q: Queryable,
  id: string,
  error: string,
  retryMs: number,
): Promise<'retry' | 'exhausted' | 'gone'> {
  const r = await q.query<{ attempts: number; max_attempts: number }>(
    `SELECT attempts, max_attempts FROM noon_jobs WHERE id = $1 AND state = 'running' FOR UPDATE`,
    [id],
  );
  const row = r.rows[0];
  if (!row) return 'gone';
  if (Number(row.attempts) >= Number(row.max_attempts)) {
    await deadRow(q, id, 'exhausted', error);
    return 'exhausted';
  }
  await q.query(
    `UPDATE noon_jobs SET state = 'queued', claimed_by = NULL, lease_until = NULL, last_error = $2,
       next_at = now() + $3::double precision * interval '1 millisecond' WHERE id = $1`,
    [id, error.slice(0, 2000), retryMs],
  );
  return 'retry';
}

/** Moves a row to the dead-letter table; false when it was gone already. */
export async function deadRow(
  q: Queryable,
  id: string,
  reason: 'refused' | 'exhausted',
  error: string,
): Promise<boolean> {
  const r = await q.query(
    `WITH gone AS (DELETE FROM noon_jobs WHERE id = $1 RETURNING *)
     INSERT INTO noon_jobs_dead (id, consumer, kind, payload, order_key, attempts, reason, error, enqueued_at)
     SELECT id, consumer, kind, payload, order_key, attempts, $2, $3, enqueued_at FROM gone`,
    [id, reason, error.slice(0, 2000)],
  );
  return r.rowCount > 0;
}

/** A claim that was never sent (no worker to take it): back in the queue at once, the attempt not counted. */
export async function unclaim(q: Queryable, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await q.query(
    `UPDATE noon_jobs SET state = 'queued', claimed_by = NULL, lease_until = NULL, attempts = greatest(attempts - 1, 0)
     WHERE id = ANY($1::bigint[]) AND state = 'running'`,
    [[...ids]],
  );
}

/**
 * Puts back in the queue those of `ids` that `me` claimed and no handler is running (no lock
 * held): messages that may have been lost with the worker they were sent to. A message still on
 * its way then finds its row queued, or claimed again, and its job still runs exactly once.
 */
export async function releaseIdle(q: Queryable, me: string, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const r = await q.query(
    `UPDATE noon_jobs SET state = 'queued', claimed_by = NULL, lease_until = NULL
     WHERE id IN (SELECT id FROM noon_jobs WHERE id = ANY($2::bigint[]) AND claimed_by = $1 AND state = 'running'
                  FOR UPDATE SKIP LOCKED)`,
    [me, [...ids]],
  );
  return r.rowCount;
}

/** The ids `me` claimed that are still running (not completed, failed or taken over). */
export async function runningOf(q: Queryable, me: string): Promise<string[]> {
  const r = await q.query<{ id: string }>(
    `SELECT id::text AS id FROM noon_jobs WHERE claimed_by = $1 AND state = 'running'`,
    [me],
  );
  return r.rows.map((x) => x.id);
}

export interface ConsumerStats {
  consumer: string;
  queued: number;
  running: number;
  /** age of the oldest row still owed, seconds; 0 when none */
  oldestAgeSeconds: number;
}

/** Per consumer (every subscribing service and `worker`, even with nothing owed): what is owed. */
export async function outboxStats(q: Queryable): Promise<ConsumerStats[]> {
  const r = await q.query<{ consumer: string; queued: string; running: string; age: string | null }>(
    `WITH consumers AS (SELECT $1::text AS consumer UNION SELECT consumer FROM noon_event_subscriptions
                        UNION SELECT DISTINCT consumer FROM noon_jobs)
     SELECT c.consumer,
            count(j.id) FILTER (WHERE j.state = 'queued') AS queued,
            count(j.id) FILTER (WHERE j.state = 'running') AS running,
            extract(epoch FROM now() - min(j.enqueued_at)) AS age
       FROM consumers c LEFT JOIN noon_jobs j ON j.consumer = c.consumer
      GROUP BY c.consumer ORDER BY c.consumer`,
    [WORKER_CONSUMER],
  );
  return r.rows.map((x) => ({
    consumer: x.consumer,
    queued: Number(x.queued),
    running: Number(x.running),
    oldestAgeSeconds: x.age === null ? 0 : Math.max(0, Number(x.age)),
  }));
}
