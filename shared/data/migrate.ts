/**
 * Per-service SQL migrations, applied by `noon migrate` and at start-up. Idempotent: applied ids
 * are recorded in `noon_migrations`; each migration and its record commit in one transaction, so a
 * crash leaves it either fully applied or not at all. Several processes may start at once: every
 * migration transaction first takes one transaction-scoped advisory lock, so they queue up and the
 * later ones see the record and skip.
 */
import { createHash } from 'node:crypto';
import { NoonError } from '../errors';
import { OUTBOX_MIGRATIONS } from './outbox';
import type { Db, Queryable } from './sql';

export interface Migration {
  /** Stable, unique within the service; applied in array order. */
  id: string;
  sql: string;
}

/** Key of the advisory lock that serialises migrations of every service in this database. */
const LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtext('noon_migrations'))`;

const TABLE_SQL = `CREATE TABLE IF NOT EXISTS noon_migrations (
  service text NOT NULL,
  id text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  checksum text NOT NULL,
  PRIMARY KEY (service, id)
)`;

function checksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex').slice(0, 16);
}

function validate(service: string, migrations: readonly Migration[]): void {
  if (service.length === 0) throw new NoonError('INTERNAL', 'migrate: empty service name');
  const seen = new Set<string>();
  for (const m of migrations) {
    if (m.id.length === 0) throw new NoonError('INTERNAL', `migrate ${service}: empty migration id`);
    if (seen.has(m.id)) throw new NoonError('INTERNAL', `migrate ${service}: duplicate migration id ${m.id}`);
    seen.add(m.id);
  }
}

/** Applies one migration unless recorded; true when it ran. Fails if a recorded one was edited. */
async function applyOne(q: Queryable, service: string, m: Migration): Promise<boolean> {
  await q.query(LOCK_SQL);
  const sum = checksum(m.sql);
  const found = await q.query<{ checksum: string }>(
    'SELECT checksum FROM noon_migrations WHERE service = $1 AND id = $2',
    [service, m.id],
  );
  const prior = found.rows[0];
  if (prior !== undefined) {
    // An applied migration is history: editing it would make databases diverge silently.
    if (prior.checksum !== sum) {
      throw new NoonError(
        'INTERNAL',
        `migrate ${service}: migration ${m.id} was changed after it was applied (add a new one instead)`,
      );
    }
    return false;
  }
  await q.query(m.sql);
  await q.query('INSERT INTO noon_migrations (service, id, checksum) VALUES ($1, $2, $3)', [service, m.id, sum]);
  return true;
}

/**
 * The migration scope of the job and event outbox (outbox.ts): noon's own tables, applied before
 * any service's, since every service may enqueue jobs and publish events in its transactions.
 * Not a role name (roles never hold a `:`).
 */
export const OUTBOX_SCOPE = 'noon:outbox';

/** Applies the service's pending migrations in order (after the outbox's); returns how many of the service's ran now. */
export async function migrate(db: Db, service: string, migrations: readonly Migration[]): Promise<number> {
  validate(service, migrations);
  await db.tx(async (q) => {
    await q.query(LOCK_SQL);
    await q.query(TABLE_SQL);
  });
  if (service !== OUTBOX_SCOPE) await applyAll(db, OUTBOX_SCOPE, OUTBOX_MIGRATIONS);
  return applyAll(db, service, migrations);
}

async function applyAll(db: Db, service: string, migrations: readonly Migration[]): Promise<number> {
  let applied = 0;
  for (const m of migrations) {
    const ran = await db.tx((q) => applyOne(q, service, m));
    if (ran) applied++;
  }
  return applied;
}
