// `noon up` as a real child process: ready output, `noon health`, ops commands against it,
// SIGINT → exit 0 with no process left, and data that survives a restart.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { NoonClient } from '../../client/client';
import { clusterFlags, isAlive, NoonProc, runNoon, tempDir } from '../support/cli-proc';
import { until } from '../support/wait';

const ROLES = ['yellow', 'brokerlist', 'broker', 'worker', 'sso', 'player', 'duel', 'chat', 'leaderboard', 'channels'];
const data = tempDir('noon-cli-up-');
let up: NoonProc | undefined;
let ready: Record<string, unknown>;

async function startUp(): Promise<NoonProc> {
  const p = new NoonProc(['up', ...clusterFlags(data.dir)]);
  ready = await p.waitFor('ready line', () => p.jsonLine({ ready: 'up' }), 90_000);
  return p;
}

before(async () => {
  up = await startUp();
});

after(async () => {
  await up?.stop('SIGKILL');
  data.remove();
});

test('bad config exits 2 naming the option', async () => {
  const r = await runNoon(['start', 'broker', '--max-frame', '10']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--max-frame/);
  const env = await runNoon(['start', 'broker'], { ...process.env, NOON_HEARTBEAT_MS: 'soon' });
  assert.equal(env.code, 2);
  assert.match(env.stderr, /NOON_HEARTBEAT_MS/);
});

test('up prints where to connect and how to try it', () => {
  const text = up?.stdout.join('\n') ?? '';
  assert.match(text, /BrokerList\s+http:\/\/127\.0\.0\.1:\d+/);
  assert.match(text, /noon health/);
  assert.deepEqual(
    [...new Set((ready.instances as Array<{ role: string }>).map((i) => i.role))].sort(),
    [...ROLES].sort(),
  );
});

test('noon health passes end to end', async () => {
  const r = await runNoon(['health', '--url', String(ready.brokerlist), '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const report = JSON.parse(r.stdout) as { ok: boolean; steps: Array<{ step: string; ok: boolean }> };
  assert.equal(report.ok, true);
  assert.deepEqual(
    report.steps.map((s) => s.step),
    ['brokerlist', 'connect', 'register', 'login', 'call', 'push'],
  );
});

test('noon health names the failing step', async () => {
  const r = await runNoon(['health', '--url', 'http://127.0.0.1:1/brokers', '--step-timeout', '2000']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /step "brokerlist" failed/);
});

test('yellow instances, services, brokers and top answer for every role', async () => {
  const y = ['--yellow', String(ready.yellow)];
  const inst = await runNoon(['yellow', 'instances', '--json', ...y]);
  assert.equal(inst.code, 0, inst.stderr);
  const records = JSON.parse(inst.stdout) as Array<{ role: string; pid: number; endpoints: { metrics?: string } }>;
  assert.deepEqual([...new Set(records.map((r) => r.role))].sort(), [...ROLES].sort());
  for (const r of records)
    assert.match(
      r.endpoints.metrics ?? '',
      /^http:\/\/127\.0\.0\.1:\d+\/metrics$/,
      `${r.role} registers a metrics URL`,
    );
  const one = await runNoon(['yellow', 'instances', 'Player', '--json', ...y]);
  assert.deepEqual(
    (JSON.parse(one.stdout) as Array<{ role: string }>).map((r) => r.role),
    ['player'],
  );
  const svcs = await runNoon(['yellow', 'services', ...y]);
  assert.match(svcs.stdout, /^player\s+Player\s+1/m);
  const brokers = await runNoon(['brokers', '--json', ...y]);
  assert.equal(brokers.code, 0, brokers.stderr);
  assert.equal((JSON.parse(brokers.stdout) as { brokers: unknown[] }).brokers.length, 1);
  const top = await runNoon(['top', '--once', '--json', '--interval', '200', ...y]);
  assert.equal(top.code, 0, top.stderr);
  const rows = (JSON.parse(top.stdout) as { instances: Array<{ role: string; problem?: string; calls?: number }> })
    .instances;
  assert.equal(rows.length, ROLES.length);
  for (const r of rows) assert.equal(r.problem, undefined, `${r.role}: ${r.problem}`);
  assert.ok((rows.find((r) => r.role === 'broker')?.calls ?? 0) >= 4, 'the broker counted the health calls');
});

test('yellow drain marks an instance and --undo clears it', async () => {
  const y = ['--yellow', String(ready.yellow)];
  const chat = (ready.instances as Array<{ role: string; instanceId: string }>).find((i) => i.role === 'chat');
  assert.ok(chat);
  assert.equal((await runNoon(['yellow', 'drain', chat.instanceId, ...y])).code, 0);
  const draining = async (): Promise<boolean> =>
    (
      JSON.parse((await runNoon(['yellow', 'instances', 'chat', '--json', ...y])).stdout) as Array<{
        draining: boolean;
      }>
    )[0]?.draining ?? false;
  assert.equal(await draining(), true);
  assert.equal((await runNoon(['yellow', 'drain', chat.instanceId, '--undo', ...y])).code, 0);
  assert.equal(await draining(), false);
  const unknown = await runNoon(['yellow', 'drain', 'nobody-1', ...y]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /nobody-1/);
});

test('SIGINT stops everything with exit 0; data persists across a restart', async () => {
  const c = await NoonClient.viaBrokerList(String(ready.brokerlist), { reconnect: false, keepAliveMs: 0 });
  await c.sso.register('persisted_ann', 'pw-ann-12345');
  c.close();
  const pids = ready.pids as number[];
  const first = up as NoonProc;
  assert.deepEqual(await first.stop('SIGINT'), { code: 0, signal: null });
  for (const pid of pids) await until(`pid ${pid} gone`, () => (isAlive(pid) ? undefined : true), 10_000);
  up = await startUp();
  const again = await NoonClient.viaBrokerList(String(ready.brokerlist), { reconnect: false, keepAliveMs: 0 });
  try {
    const s = await again.sso.login('persisted_ann', 'pw-ann-12345');
    assert.equal(s.username, 'persisted_ann');
  } finally {
    again.close();
  }
  assert.deepEqual(await up.stop('SIGINT'), { code: 0, signal: null });
  up = undefined;
});

test('noon migrate applies once, then has nothing to do', async () => {
  const fresh = tempDir('noon-cli-migrate-');
  try {
    const first = await runNoon(['migrate', '--json', '--data-dir', fresh.dir]);
    assert.equal(first.code, 0, first.stderr);
    const applied = JSON.parse(first.stdout) as Array<{ service: string; applied: number }>;
    assert.deepEqual(applied.map((a) => a.service).sort(), [
      'channels',
      'chat',
      'duel',
      'leaderboard',
      'player',
      'sso',
    ]);
    assert.ok(applied.every((a) => a.applied > 0 || a.service === 'leaderboard'));
    const second = await runNoon(['migrate', '--data-dir', fresh.dir]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /nothing to apply/);
  } finally {
    fresh.remove();
  }
});
