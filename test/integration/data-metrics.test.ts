// Db and Redis latency and errors, counted exactly: a Db (in-memory PGlite) and a Kv (the machine's
// Redis, and a Redis port nobody listens on) opened with their own DataMetrics; every statement,
// transaction and command is timed, and each failure is counted once under its kind.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Registry } from 'prom-client';
import { parseProm, sum } from '../../cli/prom';
import { DataMetrics } from '../../shared/data/data-metrics';
import { openDb } from '../../shared/data/db';
import { openKv } from '../../shared/data/store';
import { silentLogger } from '../../shared/log';
import { redisUrlFor } from '../support/services';

const logger = silentLogger();

/** A sum of samples as Prometheus would scrape them. */
async function value(m: DataMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const registry = new Registry();
  for (const metric of m.all()) registry.registerMetric(metric);
  return sum(parseProm(await registry.metrics()), name, labels);
}

/** A port that was free a moment ago: connections to it are refused. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers) await c();
});

test('every statement and transaction is timed; failures are counted once, by kind', async () => {
  const m = new DataMetrics();
  const db = await openDb({ logger, metrics: m });
  closers.push(() => db.close());
  await db.query('CREATE TABLE t (id int PRIMARY KEY)');
  await db.query('INSERT INTO t VALUES (1)');
  await db.tx(async (q) => {
    await q.query('INSERT INTO t VALUES (2)');
    await q.query('SELECT * FROM t');
  });
  assert.equal(await value(m, 'noon_db_query_duration_seconds_count'), 4, 'two alone, two inside the transaction');
  assert.equal(await value(m, 'noon_db_transaction_duration_seconds_count'), 1);
  await assert.rejects(db.query('INSERT INTO t VALUES (1)'), /duplicate key/);
  await assert.rejects(db.query('SELEKT 1'), /syntax/);
  // a failing statement inside a transaction: one error, the transaction's
  await assert.rejects(
    db.tx((q) => q.query('INSERT INTO t VALUES (2)')),
    /duplicate key/,
  );
  assert.equal(await value(m, 'noon_db_errors_total', { kind: 'constraint' }), 2);
  assert.equal(await value(m, 'noon_db_errors_total', { kind: 'other' }), 1);
  assert.equal(await value(m, 'noon_db_errors_total'), 3);
  await db.close();
  await assert.rejects(db.query('SELECT 1'), /UNAVAILABLE/);
  assert.equal(await value(m, 'noon_db_errors_total', { kind: 'closed' }), 1);
});

test('Redis commands are timed by Kv operation; a refused command and a dead server count by kind', async () => {
  const m = new DataMetrics();
  const kv = await openKv({ redis: [redisUrlFor(12)], keyPrefix: `dm-${process.pid}:`, logger, metrics: m });
  closers.push(() => kv.close());
  await kv.set('a', '1', 60_000);
  await kv.get('a');
  await kv.get('a');
  assert.equal(await value(m, 'noon_redis_command_duration_seconds_count', { command: 'get' }), 2);
  assert.equal(await value(m, 'noon_redis_command_duration_seconds_count', { command: 'set' }), 1);
  assert.equal(await value(m, 'noon_redis_command_duration_seconds_count', { command: 'zcard' }), 0, 'at zero');
  await assert.rejects(kv.hget('a', 'f'), /WRONGTYPE/);
  assert.equal(await value(m, 'noon_redis_errors_total', { kind: 'reply' }), 1);
  await kv.del('a');

  const dead = new DataMetrics();
  const down = await openKv({
    redis: [`redis://127.0.0.1:${await deadPort()}`],
    logger,
    metrics: dead,
    tuning: { connectTimeoutMs: 200, commandTimeoutMs: 200 },
  });
  closers.push(() => down.close());
  await assert.rejects(down.get('x'), /UNAVAILABLE/);
  assert.equal(await value(dead, 'noon_redis_errors_total'), 1);
  assert.equal(
    (await value(dead, 'noon_redis_errors_total', { kind: 'unavailable' })) +
      (await value(dead, 'noon_redis_errors_total', { kind: 'circuit_open' })),
    1,
  );
});
