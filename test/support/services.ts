/**
 * Where the machine's PostgreSQL and Redis are, in one place. Integration tests use them for
 * real and fail (never skip) when they are down; NOON_TEST_PG_URL / NOON_TEST_REDIS point
 * elsewhere. Tests that need more servers (Redis shards) start their own on spare ports.
 */
export const TEST_PG_URL = process.env.NOON_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_REDIS_URL = process.env.NOON_TEST_REDIS ?? 'redis://127.0.0.1:6379';

/** TEST_PG_URL with another database name (tests that create and drop their own database). */
export function pgUrlFor(database: string): string {
  const u = new URL(TEST_PG_URL);
  u.pathname = `/${database}`;
  return u.toString();
}

/** TEST_REDIS_URL with another logical database number. */
export function redisUrlFor(db: number): string {
  const u = new URL(TEST_REDIS_URL);
  u.pathname = `/${db}`;
  return u.toString();
}
