/**
 * Opens the process's Db: Postgres when a URL is configured, else embedded PGlite with its files
 * in `${dataDir}/pglite` (or in memory when there is no data dir either).
 */
import { join } from 'node:path';
import type { Logger } from '../log';
import type { DataMetrics } from './data-metrics';
import { instrumentDb } from './instrumented-db';
import { PgDb, type PgDbOptions } from './pg';
import { PgliteDb } from './pglite';
import type { Db } from './sql';

export interface OpenDbOptions {
  pgUrl?: string;
  dataDir?: string;
  schema?: string;
  logger: Logger;
  /** Extra pool settings for pg (timeouts, size); ignored by PGlite. */
  pg?: Omit<PgDbOptions, 'url' | 'logger' | 'schema'>;
  /** Times statements and counts failures here (a role's Db); without it the Db is the driver's own. */
  metrics?: DataMetrics;
}

export async function openDb(opts: OpenDbOptions): Promise<Db> {
  if (opts.pgUrl !== undefined) {
    const db = new PgDb({ ...opts.pg, url: opts.pgUrl, schema: opts.schema, logger: opts.logger });
    try {
      await db.start();
    } catch (err) {
      await db.close();
      throw err;
    }
    return opts.metrics ? instrumentDb(db, opts.metrics) : db;
  }
  const dir = opts.dataDir === undefined ? undefined : join(opts.dataDir, 'pglite');
  const db = new PgliteDb({ dir, schema: opts.schema, logger: opts.logger });
  await db.start();
  return opts.metrics ? instrumentDb(db, opts.metrics) : db;
}
