// `noon up --processes` on real Postgres (a database of its own, dropped after): a SIGKILLed
// service process is restarted by the supervisor and the cluster is healthy again; Ctrl-C (SIGINT
// to the whole process group, as a terminal sends it) stops every child gracefully with exit 0.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, clusterFlags, isAlive, NoonProc, runNoon, tempDir } from '../support/cli-proc';
import { until } from '../support/wait';
import { pgUrlFor } from '../support/services';
import { createTestDatabase, dropTestDatabase } from '../support/cluster-data';

const dbName = `noon_cli_${randomBytes(5).toString('hex')}`;
const pgUrl = pgUrlFor(dbName);
const data = tempDir('noon-cli-proc-');
let up: NoonProc | undefined;
let ready: Record<string, unknown>;

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
  await createTestDatabase(dbName);
  // its own process group, so the test can signal the group as a terminal's Ctrl-C does
  up = new NoonProc(['up', '--processes', '--pg-url', pgUrl, ...clusterFlags(data.dir)], cleanEnv(), {
    detached: true,
  });
  ready = await up.waitFor('ready line', () => up?.jsonLine({ ready: 'up' }), 120_000);
});

after(async () => {
  const pids = (ready?.pids as number[] | undefined) ?? [];
  await up?.stop('SIGINT');
  for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  data.remove();
  await dropTestDatabase(dbName);
});

test('--processes without Postgres fails naming NOON_PG_URL', async () => {
  const r = await runNoon(['up', '--processes', ...clusterFlags(data.dir)], cleanEnv());
  assert.equal(r.code, 2);
  assert.match(r.stderr, /NOON_PG_URL/);
});

test('one process per role, each registered with its own pid', async () => {
  const recs = await instances();
  const roles = recs.map((r) => r.role).sort();
  assert.deepEqual(roles, [
    'broker',
    'brokerlist',
    'channels',
    'chat',
    'duel',
    'leaderboard',
    'player',
    'sso',
    'worker',
    'yellow',
  ]);
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

test('a load test against the cluster with its player service stopped exits 1 and says why', async (t) => {
  const victim = (await instances()).find((r) => r.role === 'player');
  assert.ok(victim);
  // SIGSTOP: the process is there but does nothing, so the supervisor does not restart it; Yellow
  // declares it down and the cluster runs without a player service
  process.kill(victim.pid, 'SIGSTOP');
  try {
    await until(
      'no player in Yellow',
      async () => ((await instances()).some((r) => r.role === 'player') ? undefined : true),
      20_000,
      200,
    );
    const dir = tempDir('noon-lt-dead-');
    try {
      const scenario = join(dir.dir, 's.json');
      writeFileSync(
        scenario,
        JSON.stringify({
          name: 'dead-player',
          players: 4,
          rampUpSeconds: 0,
          durationSeconds: 3,
          thinkTimeMs: { min: 50, max: 100 },
          mix: { getProfile: 2, playRound: 1, leaderboardTop: 1 },
        }),
      );
      const r = await runNoon(
        [
          'loadtest',
          '--brokerlist',
          String(ready.brokerlist),
          '--yellow',
          String(ready.yellow),
          '--scenario',
          scenario,
          '--json',
        ],
        { ...cleanEnv(), NOON_PG_URL: pgUrl },
      );
      const report = JSON.parse(r.stdout) as { verdict: { ok: boolean; failures: string[] } };
      t.diagnostic(`verdict: ${report.verdict.failures.join('; ')}`);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(report.verdict.ok, false);
      // why: the players could not sign up (sso makes the profile on the player service) or
      // their calls failed for the platform's reasons, named by code
      assert.match(report.verdict.failures.join('\n'), /could not connect or sign in|UNAVAILABLE/);
    } finally {
      dir.remove();
    }
  } finally {
    process.kill(victim.pid, 'SIGCONT');
  }
  await until(
    'the player back in Yellow',
    async () => ((await instances()).some((r) => r.role === 'player') ? true : undefined),
    30_000,
    200,
  );
});

/** Keys of a JSON object line at its top level, in order, duplicates kept (JSON.parse drops them). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && line[j + 1] === ':') keys.push(line.slice(i + 1, j));
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

test('Ctrl-C (SIGINT to the process group) stops every child gracefully, exit 0, no duplicate log keys', async () => {
  const recs = await instances();
  const p = up as NoonProc;
  process.kill(-p.pid, 'SIGINT');
  const deadline = setTimeout(() => p.proc.kill('SIGKILL'), 30_000);
  const exit = await p.exited;
  clearTimeout(deadline);
  up = undefined;
  assert.deepEqual(exit, { code: 0, signal: null }, p.tail());
  for (const { pid } of recs) await until(`pid ${pid} gone`, () => (isAlive(pid) ? undefined : true), 15_000);
  const logs = p.stderr.flatMap((raw) => {
    try {
      return raw.startsWith('{') ? [{ raw, v: JSON.parse(raw) as Record<string, unknown> }] : [];
    } catch {
      return [];
    }
  });
  for (const { role, pid } of recs) {
    const own = logs.filter((l) => l.v.pid === pid).map((l) => l.v);
    // one signal, from the supervisor; its graceful stop ran to the end
    assert.deepEqual(
      own.filter((v) => v.msg === 'stopping').map((v) => v.signal),
      ['SIGTERM'],
      `${role} (pid ${pid}) stopping lines`,
    );
    assert.ok(
      own.some((v) => v.msg === 'stopped'),
      `${role} (pid ${pid}) logged no "stopped"`,
    );
    assert.ok(!own.some((v) => v.msg === 'second signal: exiting now'), `${role} took a second signal`);
    assert.ok(
      logs.some((l) => l.v.msg === 'role stopped' && l.v.child === role && l.v.childPid === pid && l.v.code === 0),
      `the supervisor saw ${role} (pid ${pid}) exit 0:\n${p.stderr.filter((l) => l.includes('"up"') || l.includes(`${pid}`)).join('\n')}`,
    );
  }
  for (const { raw } of logs) {
    const keys = topLevelKeys(raw);
    assert.equal(new Set(keys).size, keys.length, `duplicate keys in ${raw}`);
  }
});
