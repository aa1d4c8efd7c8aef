// `noon up --processes` on real Postgres (a database of its own, dropped after): a SIGKILLed
// service process is restarted by the supervisor and the cluster is healthy again; SIGINT stops
// every child by pid with exit 0.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';
import { cleanEnv, clusterFlags, isAlive, NoonProc, runNoon, tempDir } from '../support/cli-proc';
import { until } from '../support/wait';
import { TEST_PG_URL, pgUrlFor } from '../support/services';

const ADMIN_URL = TEST_PG_URL;
const dbName = `noon_cli_${randomBytes(5).toString('hex')}`;
const pgUrl = pgUrlFor(dbName);
const data = tempDir('noon-cli-proc-');
let up: NoonProc | undefined;
let ready: Record<string, unknown>;

async function admin(sql: string): Promise<void> {
  const c = new Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

interface Rec {
  role: string;
  pid: number;
  instanceId: string;
}

async function instances(): Promise<Rec[]> {
  // The children run with the data directory's role keys: an operator command uses its operator key.
  const keys = ['--internal-keys', join(data.dir, 'keys')];
  const r = await runNoon(['yellow', 'instances', '--json', '--yellow', String(ready.yellow), ...keys]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Rec[];
}

before(async () => {
  await admin(`CREATE DATABASE ${dbName}`);
  up = new NoonProc(['up', '--processes', '--pg-url', pgUrl, ...clusterFlags(data.dir)]);
  ready = await up.waitFor('ready line', () => up?.jsonLine({ ready: 'up' }), 120_000);
});

after(async () => {
  const pids = (ready?.pids as number[] | undefined) ?? [];
  await up?.stop('SIGINT');
  for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  data.remove();
  await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
});

test('--processes without Postgres fails naming NOON_PG_URL', async () => {
  const r = await runNoon(['up', '--processes', ...clusterFlags(data.dir)], cleanEnv());
  assert.equal(r.code, 2);
  assert.match(r.stderr, /NOON_PG_URL/);
});

test('one process per role, each registered with its own pid', async () => {
  const recs = await instances();
  const roles = recs.map((r) => r.role).sort();
  assert.deepEqual(roles, ['broker', 'brokerlist', 'chat', 'duel', 'leaderboard', 'player', 'sso', 'yellow']);
  assert.equal(new Set(recs.map((r) => r.pid)).size, recs.length);
  assert.ok(!recs.some((r) => r.pid === up?.pid), 'the supervisor runs no role itself');
});

test('a SIGKILLed service is restarted and health passes again', async () => {
  const health = async (): Promise<void> => {
    const r = await runNoon(['health', '--url', String(ready.brokerlist)]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  };
  await health();
  const victim = (await instances()).find((r) => r.role === 'player');
  assert.ok(victim);
  process.kill(victim.pid, 'SIGKILL');
  const restarted = await up?.waitFor(
    'restart line',
    () => up?.jsonLine({ event: 'restarted', role: 'player' }),
    60_000,
  );
  assert.notEqual(restarted?.pid, victim.pid);
  // The old instance expires from Yellow (3 missed heartbeats) and the new one is there.
  await until(
    'only the new player in Yellow',
    async () => {
      const players = (await instances()).filter((r) => r.role === 'player');
      return players.length === 1 && players[0]?.pid === restarted?.pid ? true : undefined;
    },
    20_000,
    200,
  );
  await health();
});

test('SIGINT stops every child by pid with exit 0', async () => {
  const pids = (await instances()).map((r) => r.pid);
  const p = up as NoonProc;
  assert.deepEqual(await p.stop('SIGINT'), { code: 0, signal: null });
  up = undefined;
  for (const pid of pids) await until(`pid ${pid} gone`, () => (isAlive(pid) ? undefined : true), 15_000);
});
