/**
 * The data of a multi-process test cluster: a Postgres database of its own (created before the
 * roles start, dropped with FORCE after, so a killed role's connections do not keep it) and a
 * Redis logical database emptied before and after.
 */
import pg from 'pg';
import Redis from 'ioredis';
import { TEST_PG_URL } from './services';

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 5000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

async function flushRedis(db: number): Promise<void> {
  const redis = new Redis({ host: '127.0.0.1', port: 6379, db });
  try {
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
}

/** A Postgres database of a test's own, beside the machine's `test` database. */
export async function createTestDatabase(database: string): Promise<void> {
  await admin(`CREATE DATABASE ${database}`);
}

/** Drops it with FORCE, so connections a killed role left behind do not keep it. */
export async function dropTestDatabase(database: string): Promise<void> {
  await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
}

export async function createClusterData(database: string, redisDb: number): Promise<void> {
  await createTestDatabase(database);
  await flushRedis(redisDb);
}

export async function dropClusterData(database: string, redisDb: number): Promise<void> {
  await dropTestDatabase(database);
  await flushRedis(redisDb);
}
