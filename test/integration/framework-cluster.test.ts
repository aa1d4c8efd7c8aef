import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Int64 from 'node-int64';
import { silentLogger } from '../../shared/log';
import { isNoonError } from '../../shared/errors';
import { YellowClient } from '../../yellow/client';
import type { Directory } from '../../yellow/directory';
import { Links } from '../../rpc/links';
import { ServiceCaller } from '../../rpc/caller';
import { serviceClients, type ServiceClients } from '../../rpc/clients';
import { kill, killAll, spawnReady, type Child } from '../support/yellow-harness';
import { until } from '../support/wait';

const HEARTBEAT_MS = 100;
let yellow: Child;
let yellowEndpoint: string;
const services: Child[] = [];
let client: YellowClient;
let directory: Directory;
let links: Links;
let clients: ServiceClients;

function env(): Record<string, string> {
  return { NOON_YELLOW: yellowEndpoint, NOON_HEARTBEAT_MS: String(HEARTBEAT_MS), NOON_YELLOW_PORT: '0' };
}

before(async () => {
  yellow = await spawnReady('yellow-proc.ts', { NOON_YELLOW_PORT: '0', NOON_HEARTBEAT_MS: String(HEARTBEAT_MS) });
  yellowEndpoint = String(yellow.ready.router);
  services.push(await spawnReady('lb-service.ts', env()), await spawnReady('lb-service.ts', env()));
  client = new YellowClient({ endpoints: [yellowEndpoint], heartbeatMs: HEARTBEAT_MS, logger: silentLogger() });
  directory = await client.watch();
  links = new Links({
    identity: `test-${process.pid}`,
    logger: silentLogger(),
    maxQueued: 10_000,
    maxPayload: 1 << 20,
  });
  directory.on('down', ({ instanceId }) => links.drop(instanceId, 'is down'));
  const caller = new ServiceCaller(directory, links);
  clients = serviceClients(caller, () => ({
    sessionId: 's',
    userId: 'u',
    traceId: 'trace-1',
    via: 'test',
    deadline: Date.now() + 3000,
  }));
  await until(
    'two instances in the directory',
    () => directory.instances({ thriftService: 'Leaderboard' }).length === 2,
  );
});

after(async () => {
  links?.close();
  await client?.stop();
  killAll();
});

test('two instances share calls from an awaitable client', async () => {
  const seen = new Map<string, number>();
  const calls = Array.from({ length: 200 }, () => clients.leaderboard.top('b', 1));
  for (const r of await Promise.all(calls)) seen.set(r[0]?.userId ?? '', (seen.get(r[0]?.userId ?? '') ?? 0) + 1);
  assert.equal(seen.size, 2, `served by ${[...seen.keys()].join(', ')}`);
  for (const n of seen.values()) assert.ok(n >= 40, `uneven split ${[...seen.values()].join('/')}`);
});

test('a nested call inherits the trace id and a deadline no later than its caller', async () => {
  const before = Date.now();
  const r = await clients.leaderboard.around('b', 3);
  assert.equal(r.length, 2);
  assert.equal(r[1]?.username, 'trace-1');
  const nestedDeadline = Number(r[1]?.score?.toString());
  assert.ok(nestedDeadline <= before + 3000 + 50, 'deadline propagated');
});

test('killing one instance mid-stream: idempotent calls all succeed, others succeed, fail UNAVAILABLE (never sent) or TIMEOUT (sent: outcome unknown), none hangs', async () => {
  const victim = services[0] as Child;
  const counts = { topOk: 0, reportOk: 0, reportUnavailable: 0, reportUnknown: 0, other: 0 };
  const errors: string[] = [];
  const started = Date.now();
  let killed = false;
  const stream = async (worker: number): Promise<void> => {
    for (let i = 0; i < 60; i++) {
      if (worker === 0 && i === 10 && !killed) {
        killed = true;
        void kill(victim);
      }
      const [top, report] = await Promise.allSettled([
        clients.leaderboard.top('b', i),
        clients.leaderboard.report('b', `u${worker}`, '', new Int64(1), ''),
      ]);
      if (top.status === 'fulfilled') counts.topOk++;
      else errors.push(`top: ${String(top.reason)}`);
      if (report.status === 'fulfilled') counts.reportOk++;
      else if (isNoonError(report.reason, 'UNAVAILABLE')) counts.reportUnavailable++;
      // a call the dead instance had been sent may have run: never reported as a failure
      else if (isNoonError(report.reason, 'TIMEOUT') && /outcome unknown/.test(String(report.reason)))
        counts.reportUnknown++;
      else {
        counts.other++;
        errors.push(`report: ${String(report.reason)}`);
      }
    }
  };
  await Promise.all([0, 1, 2, 3].map(stream));
  assert.deepEqual(errors, []);
  assert.equal(counts.topOk, 240);
  assert.equal(counts.reportOk + counts.reportUnavailable + counts.reportUnknown, 240);
  assert.ok(Date.now() - started < 30_000, 'no call hung past its deadline');
  await until(
    'victim gone from the directory',
    () => directory.instances({ thriftService: 'Leaderboard' }).length === 1,
    3000,
  );
});

test('calls keep working while Yellow is down, and instances re-register when it returns', async () => {
  const port = Number(new URL(yellowEndpoint.replace('tcp://', 'http://')).port);
  await kill(yellow);
  for (let i = 0; i < 20; i++) assert.equal((await clients.leaderboard.top('b', i)).length, 1);
  yellow = await spawnReady('yellow-proc.ts', {
    NOON_YELLOW_PORT: String(port),
    NOON_HEARTBEAT_MS: String(HEARTBEAT_MS),
  });
  const fresh = new YellowClient({ endpoints: [yellowEndpoint], heartbeatMs: HEARTBEAT_MS, logger: silentLogger() });
  try {
    const end = Date.now() + 5000;
    let found = 0;
    while (Date.now() < end && found === 0) {
      found = (await fresh.query({ role: 'leaderboard' }).catch(() => [])).length;
      if (found === 0) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(found, 1);
  } finally {
    await fresh.stop();
  }
  await until(
    'the survivor back in the directory',
    () => directory.instances({ thriftService: 'Leaderboard' }).length === 1,
    5000,
  );
  assert.equal((await clients.leaderboard.top('b', 1)).length, 1);
});
