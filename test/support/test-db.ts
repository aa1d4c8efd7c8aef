/**
 * The databases every svc-* test runs on: embedded PGlite (in memory) and real Postgres (a
 * throwaway schema in NOON_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/test).
 * A test file wraps its body in `for (const kind of DB_KINDS) describe(`… on ${kind}`, …)`.
 * Real Postgres is required: when it is not there, openTestDb throws and the suite fails, it
 * does not skip.
 */
import { randomBytes } from 'node:crypto';
import { openDb } from '../../shared/data/db';
import { PgDb } from '../../shared/data/pg';
import type { Db } from '../../shared/data/sql';
import { silentLogger } from '../../shared/log';
import { TEST_PG_URL } from './services';

export const DB_KINDS = ['pglite', 'postgres'] as const;
export type DbKind = (typeof DB_KINDS)[number];

export { TEST_PG_URL };

export interface TestDb {
  db: Db;
  /** Drops the throwaway schema (postgres) and closes the Db; the in-memory PGlite is gone at close. */
  drop(): Promise<void>;
}

/** `name` tags the Postgres schema (`t_${name}_${pid}_${random}`), so leftovers say whose they are. */
export async function openTestDb(kind: DbKind, name: string): Promise<TestDb> {
  if (kind === 'pglite') {
    const db = await openDb({ logger: silentLogger() });
    return { db, drop: () => db.close() };
  }
  const schema = `t_${name}_${process.pid}_${randomBytes(3).toString('hex')}`;
  const db = await openDb({ pgUrl: TEST_PG_URL, schema, logger: silentLogger() });
  return {
    db,
    async drop() {
      try {
        if (db instanceof PgDb) await db.dropSchema();
      } finally {
        await db.close();
      }
    },
  };
}
