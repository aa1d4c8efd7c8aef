/**
 * The data handles of a process: one Db (Postgres or PGlite) and one Kv (Redis shards or
 * in-process), timed into the process's data metrics.
 */
import type { Config } from '../shared/config';
import { processDataMetrics } from '../shared/data/data-metrics';
import { openDb } from '../shared/data/db';
import { migrate, OUTBOX_SCOPE } from '../shared/data/migrate';
import { OUTBOX_MIGRATIONS } from '../shared/data/outbox';
import type { Db } from '../shared/data/sql';
import type { Kv } from '../shared/data/kv';
import { openKv } from '../shared/data/store';
import type { Logger } from '../shared/log';
import type { AnyServiceModule } from '../rpc/api';

/** Shared data handles (`noon up`); a role opens its own when none are given and closes them. */
export interface SharedData {
  db: Db;
  kv: Kv;
}

export async function openData(cfg: Config, logger: Logger): Promise<SharedData> {
  const metrics = processDataMetrics;
  const pg = cfg.pgUrl !== undefined ? { pgUrl: cfg.pgUrl } : {};
  const db = await openDb({ ...pg, dataDir: cfg.dataDir, logger, metrics });
  try {
    return { db, kv: await openKv({ redis: cfg.redis, logger, metrics }) };
  } catch (err) {
    await db.close();
    throw err;
  }
}

/** Applies one module's migrations (the outbox's first); returns how many of the module's ran now. */
export async function migrateModule(db: Db, mod: AnyServiceModule): Promise<number> {
  return migrate(db, mod.role, mod.migrations);
}

/** The job and event outbox's tables alone (a worker, which serves no module). */
export async function migrateOutbox(db: Db): Promise<number> {
  return migrate(db, OUTBOX_SCOPE, OUTBOX_MIGRATIONS);
}
