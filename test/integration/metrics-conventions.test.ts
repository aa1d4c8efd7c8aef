// Metric conventions on a real `noon up` (one process, Redis behind its Kv): no sample carries a
// target label (instance, role); each component is a target of its own with one noon_build_info
// naming its role and instance id; process metrics (CPU, heap, event loop, Db and Redis latency)
// appear on exactly one target; labelled series exist at zero before their first use; Db and
// Redis latency counts move with calls. Targets are listed as Prometheus reads them: Yellow's
// /sd/targets (http_sd) and `noon yellow targets` (file_sd).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { NoonClient } from '../../client/client';
import { parseProm, sum, type Sample } from '../../cli/prom';
import { NOON_VERSION } from '../../shared/identity';
import { cleanEnv, clusterFlags, NoonProc, runNoon, tempDir } from '../support/cli-proc';
import { redisUrlFor } from '../support/services';
import { createClusterData, dropClusterData } from '../support/cluster-data';
import { until } from '../support/wait';

const REDIS_DB = 12;
const data = tempDir('noon-metrics-conv-');
const database = `noon_conv_${process.pid}`;
let up: NoonProc;
let ready: Record<string, unknown>;

interface Group {
  targets: string[];
  labels: Record<string, string>;
}

async function targets(): Promise<Group[]> {
  const r = await runNoon(['yellow', 'targets', '--internal-plaintext', '--yellow', String(ready.yellow)]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Group[];
}

/** role -> its samples, each component scraped once */
async function scrapeAll(): Promise<Map<string, Sample[]>> {
  const out = new Map<string, Sample[]>();
  for (const g of await targets()) {
    const url = `http://${g.targets[0]}${g.labels.__metrics_path__}`;
    out.set(String(g.labels.__meta_noon_role), parseProm(await (await fetch(url)).text()));
  }
  return out;
}

before(async () => {
  await createClusterData(database, REDIS_DB);
  up = new NoonProc(['up', '--redis', redisUrlFor(REDIS_DB), ...clusterFlags(data.dir)], cleanEnv());
  ready = await up.waitFor('ready line', () => up.jsonLine({ ready: 'up' }), 90_000);
});

after(async () => {
  await up?.stop('SIGINT');
  data.remove();
  await dropClusterData(database, REDIS_DB);
});

const ROLES = ['broker', 'brokerlist', 'channels', 'chat', 'duel', 'leaderboard', 'player', 'sso', 'worker', 'yellow'];

test('Yellow serves the same scrape targets as `noon yellow targets`, one per component', async () => {
  const listed = await targets();
  assert.deepEqual(listed.map((g) => g.labels.__meta_noon_role).sort(), ROLES);
  const byRole = new Map(listed.map((g) => [g.labels.__meta_noon_role, g]));
  const y = byRole.get('yellow') as Group;
  const served = (await (await fetch(`http://${y.targets[0]}/sd/targets`)).json()) as Group[];
  assert.deepEqual(
    served.map((g) => g.targets[0]),
    listed.map((g) => g.targets[0]),
  );
  assert.equal(new Set(listed.map((g) => g.targets[0])).size, ROLES.length, 'each component its own port');
});

test('no sample carries instance or role; one noon_build_info per target names role and instance id', async () => {
  const all = await scrapeAll();
  const groups = await targets();
  for (const [role, samples] of all) {
    const labelled = samples.filter((s) => 'instance' in s.labels || 'role' in s.labels);
    assert.deepEqual(
      labelled.filter((s) => s.name !== 'noon_build_info').map((s) => s.name),
      [],
      `${role}: target labels on samples`,
    );
    const info = samples.filter((s) => s.name === 'noon_build_info');
    assert.equal(info.length, 1, `${role}: one build_info`);
    const g = groups.find((x) => x.labels.__meta_noon_role === role) as Group;
    assert.deepEqual(
      { ...info[0]?.labels, value: info[0]?.value },
      {
        version: NOON_VERSION,
        role,
        instance_id: g.labels.__meta_noon_instance_id,
        node: process.versions.node,
        value: 1,
      },
    );
  }
});

test('process metrics appear on exactly one target of the process', async () => {
  const all = await scrapeAll();
  for (const name of [
    'process_cpu_user_seconds_total',
    'nodejs_heap_size_used_bytes',
    'noon_event_loop_delay_seconds',
    'noon_db_query_duration_seconds_count',
    'noon_db_errors_total',
    'noon_redis_command_duration_seconds_count',
    'noon_redis_errors_total',
  ]) {
    const carriers = [...all].filter(([, s]) => s.some((x) => x.name === name)).map(([role]) => role);
    assert.deepEqual(carriers, ['yellow'], name);
  }
});

test('labelled series start at zero: methods, drop reasons, transports, error kinds', async () => {
  const all = await scrapeAll();
  const broker = all.get('broker') as Sample[];
  const has = (samples: Sample[], name: string, labels: Record<string, string>): boolean =>
    samples.some((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  // methods become known as routes are learnt from Yellow
  await until('the broker knows Player:getWallet', async () =>
    has(parseProm(await (await fetch(brokerUrl(await targets()))).text()), 'noon_calls_total', {
      method: 'Player:getWallet',
      outcome: 'ok',
    }),
  );
  for (const reason of ['rate_limited', 'flood', 'slow_consumer', 'max_connections', 'unknown_method'])
    assert.ok(has(broker, 'noon_dropped_total', { reason }), `drop reason ${reason}`);
  for (const transport of ['tcp', 'ws']) assert.ok(has(broker, 'noon_connections', { transport }), transport);
  const player = all.get('player') as Sample[];
  for (const outcome of ['ok', 'error'])
    assert.ok(has(player, 'noon_calls_total', { method: 'Player:getWallet', outcome }), `player ${outcome}`);
  assert.ok(has(player, 'noon_call_duration_seconds_count', { method: 'Player:getWallet' }));
  assert.ok(has(player, 'noon_dropped_total', { reason: 'send_failed' }));
  const yellow = all.get('yellow') as Sample[];
  for (const kind of ['conflict', 'connection', 'timeout', 'constraint', 'closed', 'other'])
    assert.ok(has(yellow, 'noon_db_errors_total', { kind }), `db error kind ${kind}`);
  for (const kind of ['circuit_open', 'unavailable', 'reply', 'other'])
    assert.ok(has(yellow, 'noon_redis_errors_total', { kind }), `redis error kind ${kind}`);
  assert.ok(has(yellow, 'noon_redis_command_duration_seconds_count', { command: 'logAppend' }));
});

function brokerUrl(groups: Group[]): string {
  const g = groups.find((x) => x.labels.__meta_noon_role === 'broker') as Group;
  return `http://${g.targets[0]}${g.labels.__metrics_path__}`;
}

test('calls move the Db and Redis latency counts; Yellow and every directory agree on the instance count', async () => {
  const before = (await scrapeAll()).get('yellow') as Sample[];
  const client = await NoonClient.viaBrokerList(String(ready.brokerlist), { reconnect: false, keepAliveMs: 0 });
  try {
    await client.sso.register('conv_ann', 'pw-ann-12345');
    for (let i = 0; i < 5; i++) await client.player.getWallet();
  } finally {
    client.close();
  }
  const all = await scrapeAll();
  const after = all.get('yellow') as Sample[];
  const grew = (name: string): number => sum(after, name) - sum(before, name);
  assert.ok(grew('noon_db_query_duration_seconds_count') > 0, 'db statements timed');
  assert.ok(grew('noon_db_transaction_duration_seconds_count') > 0, 'transactions timed');
  assert.ok(grew('noon_redis_command_duration_seconds_count') > 0, 'redis commands timed');
  assert.equal(sum(after, 'noon_db_errors_total'), 0);
  assert.equal(sum(after, 'noon_redis_errors_total'), 0);
  assert.equal(sum(after, 'noon_yellow_instances'), ROLES.length);
  for (const [role, samples] of all) {
    if (role === 'yellow') continue;
    assert.equal(sum(samples, 'noon_directory_instances'), ROLES.length, `${role}'s directory`);
  }
});
