// Jobs on real processes: two workers (`test/support/outbox-proc.ts`, the real worker role) run
// jobs from the outbox on real Postgres (a throwaway schema shared with the children); one is
// SIGKILLed mid-batch and another started. Every job's effect is applied exactly once (rows
// counted per job), none is lost, the dead-letter table holds exactly the jobs the handler
// refused, and the workers' /metrics say the outbox is empty again (oldest age 0).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { parseProm, sum } from '../../cli/prom';
import { loadConfig, type Config } from '../../shared/config';
import { openDb } from '../../shared/data/db';
import { migrate } from '../../shared/data/migrate';
import { PgDb } from '../../shared/data/pg';
import type { Db } from '../../shared/data/sql';
import { silentLogger } from '../../shared/log';
import { DuelRecord } from '../../shared/protocol';
import { YellowServer } from '../../yellow/server';
import { cleanEnv } from '../support/cli-proc';
import { killAllProcesses, TestProcess } from '../support/process';
import { TEST_PG_URL } from '../support/services';
import { effectJob, jobFixtureModule } from '../support/outbox-fixture';
import { until } from '../support/wait';

const HEARTBEAT_MS = 200;
const JOBS = 400;
const REFUSED = 20;
const FLAKY = 40;
const schema = `t_jobs_${process.pid}_${randomBytes(3).toString('hex')}`;
const logger = silentLogger();
let db: Db;
let yellow: YellowServer;
let cfg: Config;

function startWorker(): { proc: TestProcess; ready: Promise<Record<string, unknown>> } {
  const env = cleanEnv({
    NOON_TEST_OUTBOX_ROLE: 'worker',
    NOON_YELLOW: cfg.yellow.join(','),
    NOON_HEARTBEAT_MS: String(HEARTBEAT_MS),
    NOON_PG_URL: TEST_PG_URL,
    NOON_TEST_PG_SCHEMA: schema,
    NOON_LOG_LEVEL: 'warn',
    NOON_JOB_POLL_MS: '50',
    // Long: what comes back early comes back because its worker left, not because a lease ran out.
    NOON_JOB_LEASE_MS: '60000',
    NOON_JOB_CONCURRENCY: '4',
    NOON_JOB_BACKOFF_MS: '50',
    NOON_JOB_MAX_BACKOFF_MS: '200',
  });
  const proc = new TestProcess(['--import', 'tsx', 'test/support/outbox-proc.ts'], env, 'worker');
  return { proc, ready: proc.ready(60_000, 'worker') };
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const r = await db.query<{ n: string }>(sql, params);
  return Number(r.rows[0]?.n ?? 0);
}

async function scrape(url: unknown): Promise<ReturnType<typeof parseProm>> {
  return parseProm(await (await fetch(String(url))).text());
}

before(async () => {
  db = await openDb({ pgUrl: TEST_PG_URL, schema, logger });
  yellow = new YellowServer({ host: '127.0.0.1', port: 0, heartbeatMs: HEARTBEAT_MS, logger });
  const { router } = await yellow.start();
  cfg = loadConfig({ yellow: [router], heartbeatMs: HEARTBEAT_MS, logLevel: 'silent' }, {});
  await migrate(db, jobFixtureModule.role, jobFixtureModule.migrations);
});

after(async () => {
  killAllProcesses();
  await yellow?.stop();
  if (db instanceof PgDb) await db.dropSchema().catch(() => undefined);
  await db?.close();
});

/** How the handler treats job i: refuse the first REFUSED, fail the next FLAKY once, run the rest. */
const reasonOf = (i: number): string => (i < REFUSED ? 'refuse' : i < REFUSED + FLAKY ? 'flaky' : 'run');

test('a worker SIGKILLed mid-batch: every job applied exactly once, only refusals dead-lettered, the outbox drains', async () => {
  // Enqueued in transactions beside a state row, as a service would.
  await db.query('CREATE TABLE IF NOT EXISTS job_orders (name text PRIMARY KEY)');
  for (let from = 0; from < JOBS; from += 50)
    await db.tx(async (q) => {
      for (let i = from; i < Math.min(JOBS, from + 50); i++) {
        await q.query('INSERT INTO job_orders (name) VALUES ($1)', [`j${i}`]);
        await effectJob.enqueue(q, new DuelRecord({ duelId: `j${i}`, reason: reasonOf(i), endedAtMs: i }));
      }
    });
  // A job enqueued in a transaction that rolls back does not exist.
  await db
    .tx(async (q) => {
      await effectJob.enqueue(q, new DuelRecord({ duelId: 'rolled-back', reason: 'run' }));
      throw new Error('roll back');
    })
    .catch(() => undefined);
  assert.equal(await count('SELECT count(*) AS n FROM noon_jobs'), JOBS);

  const w1 = startWorker();
  const w2 = startWorker();
  const [r1, r2] = await Promise.all([w1.ready, w2.ready]);

  await until('some jobs ran', async () => (await count('SELECT count(*) AS n FROM job_effects')) >= 60, 60_000);
  // Mid-batch: the outbox still holds jobs, the oldest has an age, and the killed worker holds claims.
  const midway = await scrape(r1.metrics);
  assert.ok(sum(midway, 'noon_jobs_oldest_age_seconds', { consumer: 'worker' }) > 0, 'the oldest job has an age');
  assert.ok(
    sum(midway, 'noon_jobs_queued', { consumer: 'worker' }) + sum(midway, 'noon_jobs_running', { consumer: 'worker' }) >
      0,
  );
  w1.proc.proc.kill('SIGKILL');
  await w1.proc.exited;
  const heldByKilled = await count(`SELECT count(*) AS n FROM noon_jobs WHERE state = 'running' AND claimed_by = $1`, [
    r1.instanceId,
  ]);
  const effectsAtKill = await count('SELECT count(*) AS n FROM job_effects');
  assert.ok(effectsAtKill < JOBS - REFUSED, `the kill came before the end (${effectsAtKill} effects)`);

  const w3 = startWorker();
  const r3 = await w3.ready;
  await until(
    'the outbox is empty',
    async () => (await count('SELECT count(*) AS n FROM noon_jobs')) === 0,
    120_000,
    50,
  );

  // Exactly once: one effect row per job that was not refused, none for a refused one.
  const perJob = await db.query<{ name: string; n: string }>(
    'SELECT name, count(*) AS n FROM job_effects GROUP BY name',
  );
  const twice = perJob.rows.filter((r) => Number(r.n) !== 1).map((r) => r.name);
  assert.deepEqual(twice, [], 'no job applied twice');
  const applied = new Set(perJob.rows.map((r) => r.name));
  const lost = [];
  for (let i = REFUSED; i < JOBS; i++) if (!applied.has(`j${i}`)) lost.push(`j${i}`);
  assert.deepEqual(lost, [], 'no job lost');
  assert.equal(applied.size, JOBS - REFUSED);
  assert.equal(
    await count(`SELECT count(*) AS n FROM job_effects WHERE name LIKE 'j%' AND name = ANY($1)`, [
      Array.from({ length: REFUSED }, (_, i) => `j${i}`),
    ]),
    0,
  );
  // The flaky ones succeeded on a later attempt, after a backoff.
  assert.equal(
    await count(`SELECT count(*) AS n FROM job_effects WHERE attempt >= 2 AND name = ANY($1)`, [
      Array.from({ length: FLAKY }, (_, i) => `j${REFUSED + i}`),
    ]),
    FLAKY,
  );

  // The dead-letter table holds exactly the refused jobs.
  const dead = await db.query<{ reason: string; payload: Buffer }>('SELECT reason, payload FROM noon_jobs_dead');
  assert.equal(dead.rows.length, REFUSED);
  assert.deepEqual([...new Set(dead.rows.map((r) => r.reason))], ['refused']);

  // The metrics say so: nothing queued or running, the oldest age back to 0; the refusals counted.
  for (const url of [r2.metrics, r3.metrics]) {
    const s = await until(
      'the worker reports an empty outbox',
      async () => {
        const got = await scrape(url);
        return sum(got, 'noon_jobs_oldest_age_seconds', { consumer: 'worker' }) === 0 ? got : undefined;
      },
      10_000,
      50,
    );
    assert.equal(sum(s, 'noon_jobs_queued', { consumer: 'worker' }), 0);
    assert.equal(sum(s, 'noon_jobs_running', { consumer: 'worker' }), 0);
  }
  const [s2, s3] = [await scrape(r2.metrics), await scrape(r3.metrics)];
  const refusedCounted =
    sum(s2, 'noon_jobs_failed_total', { outcome: 'refused' }) +
    sum(s3, 'noon_jobs_failed_total', { outcome: 'refused' });
  assert.ok(
    refusedCounted <= REFUSED,
    `refusals counted by the survivors (${refusedCounted}) are among the ${REFUSED}`,
  );
  console.log(
    `# ${JOBS} jobs; at the kill: ${effectsAtKill} effects, ${heldByKilled} jobs claimed by the killed worker; ` +
      `after: ${applied.size} applied once each, ${dead.rows.length} dead-lettered (refused)`,
  );
  await Promise.all([w2.proc.stop(), w3.proc.stop()]);
});
