/**
 * Failure detection and delta discovery with real processes: Yellow, the services and providers
 * are children (killed by pid); the consumer (YellowClient + Directory, and a service caller)
 * runs in the test process.
 */
import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import { silentLogger } from '../../shared/log';
import { Links } from '../../rpc/links';
import { ServiceCaller } from '../../rpc/caller';
import { serviceClients } from '../../rpc/clients';
import { YellowClient, type YellowClientOptions } from '../../yellow/client';
import type { Directory } from '../../yellow/directory';
import { YellowLink } from '../../yellow/link';
import { kill, killAll, portOf, spawnReady, type Child } from '../support/yellow-harness';
import { until } from '../support/wait';

const HB = 200;

function yellowEnv(heartbeatMs: number, port = 0): Record<string, string> {
  return { NOON_HOST: '127.0.0.1', NOON_YELLOW_PORT: String(port), NOON_HEARTBEAT_MS: String(heartbeatMs) };
}

async function startYellow(heartbeatMs = HB, port = 0): Promise<Child & { router: string }> {
  const child = await spawnReady('yellow-proc.ts', yellowEnv(heartbeatMs, port));
  return { ...child, router: String(child.ready.router) };
}

const clients: YellowClient[] = [];
const linkSets: Links[] = [];
function consumer(endpoints: string[], extra: Partial<YellowClientOptions> = {}): YellowClient {
  const c = new YellowClient({ endpoints, heartbeatMs: HB, logger: silentLogger(), ...extra });
  clients.push(c);
  return c;
}

/** Waits until a Yellow's warm-up is over: while it lasts, watchers resync every interval anyway. */
async function warmedUp(router: string): Promise<void> {
  const link = new YellowLink(router, silentLogger());
  link.start();
  try {
    await until(
      'Yellow past its warm-up',
      async () => ((await link.request<'hello'>({ op: 'hello' }, 2000)).warmingUp ? undefined : true),
      30_000,
    );
  } finally {
    await link.stop();
  }
}

/** Records every `down` a directory emits, to prove none happened. */
function downs(dir: Directory): string[] {
  const out: string[] = [];
  dir.on('down', (d) => out.push(`${d.instanceId}:${d.reason}`));
  return out;
}

afterEach(async () => {
  for (const l of linkSets.splice(0)) l.close();
  await Promise.all(clients.splice(0).map((c) => c.stop()));
  killAll();
});
after(() => killAll());

describe('failure detection', () => {
  test('a service whose main loop is blocked for 2 s (10 heartbeat intervals) stays up, and its calls complete after', async (t) => {
    const yellow = await startYellow();
    const svc = await spawnReady('stall-service.ts', {
      NOON_YELLOW: yellow.router,
      NOON_HEARTBEAT_MS: String(HB),
      NOON_HOST: '127.0.0.1',
      NOON_METRICS_PORT: '0',
      STALL_MS: '2000',
    });
    const instanceId = String(svc.ready.instanceId);
    const c = consumer([yellow.router]);
    const dir = await c.watch();
    const lost = downs(dir);
    const links = new Links({
      identity: `test-${process.pid}`,
      logger: silentLogger(),
      maxQueued: 1000,
      maxPayload: 1 << 20,
    });
    linkSets.push(links);
    dir.on('down', ({ instanceId: id }) => links.drop(id, 'is down'));
    const lb = serviceClients(new ServiceCaller(dir, links), () => ({
      sessionId: 's',
      userId: 'u',
      traceId: 'stall',
      via: 'test',
      deadline: Date.now() + 20_000,
    })).leaderboard;
    await until('the service in the directory', () => (dir.isAlive(instanceId) ? true : undefined), 10_000);
    assert.equal((await lb.top('warm', 1))[0]?.userId, instanceId);

    svc.proc.kill('SIGUSR2');
    await svc.output.waitFor('stall start', () => svc.output.jsonLine({ stall: 'start' }), 10_000);
    const startedAt = Date.now();
    const calls = Array.from({ length: 5 }, (_, i) => lb.top(`during-${i}`, i + 1));
    // Yellow keeps hearing from the blocked process, which says how long its loop has been stuck.
    const stalled = await until(
      'a heartbeat reporting the stalled main loop',
      async () => (await c.query({ role: 'leaderboard' })).find((r) => r.instanceId === instanceId)?.stalledMs,
      10_000,
    );
    assert.ok(stalled > HB, `stalledMs ${stalled}`);
    await svc.output.waitFor('stall end', () => svc.output.jsonLine({ stall: 'end' }), 20_000);
    const blockedMs = Date.now() - startedAt;
    const answers = await Promise.all(calls);
    assert.equal(answers.length, 5);
    answers.forEach((a, i) => {
      assert.equal(a[0]?.userId, instanceId);
      assert.equal(a[0]?.username, `during-${i}`);
    });
    // Several of the silence limits (2.5 intervals = 500 ms) fit in the block, yet no down.
    assert.ok(blockedMs >= 1500, `the block lasted ${blockedMs} ms`);
    assert.deepEqual(lost, [], 'no down event at the watching consumer');
    assert.equal(dir.isAlive(instanceId), true);
    t.diagnostic(`main loop blocked ~${blockedMs} ms; Yellow saw stalledMs=${stalled}; 5/5 calls answered`);
  });

  test('a SIGKILLed instance is down at the consumer within 6 s of the kill (default 1 s heartbeat)', async (t) => {
    const heartbeatMs = 1000;
    const yellow = await startYellow(heartbeatMs);
    const provider = await spawnReady('yellow-provider.ts', {
      NOON_YELLOW: yellow.router,
      NOON_HEARTBEAT_MS: String(heartbeatMs),
      PROVIDER_ID: 'player-k',
    });
    const dir = await consumer([yellow.router], { heartbeatMs }).watch();
    await until('player-k in the directory', () => (dir.isAlive('player-k') ? true : undefined), 10_000);
    const down = new Promise<{ reason: string; at: number }>((resolve) =>
      dir.on('down', (d) => d.instanceId === 'player-k' && resolve({ reason: d.reason, at: Date.now() })),
    );
    const killedAt = Date.now();
    await kill(provider);
    const got = await until('the down of player-k', () => Promise.race([down, Promise.resolve(undefined)]), 6000);
    const elapsed = got.at - killedAt;
    assert.equal(got.reason, 'expired');
    assert.ok(elapsed <= 6000, `down ${elapsed} ms after the kill`);
    t.diagnostic(`SIGKILL -> down at the consumer: ${elapsed} ms (heartbeat 1000 ms)`);
  });
});

describe('delta discovery', () => {
  test('a consumer that lost a delta notices the version gap, resyncs and converges', async () => {
    const yellow = await startYellow();
    // Lose every event about player-g: its up, and later its down.
    const c = consumer([yellow.router], {
      resyncMs: 600_000,
      dropEventForTest: (ev) =>
        (ev.type === 'up' && ev.instance.instanceId === 'player-g') ||
        (ev.type === 'down' && ev.instanceId === 'player-g'),
    });
    const dir = await c.watch();
    await warmedUp(yellow.router);
    const resyncsAtStart = c.watchStats()?.resyncs ?? 0;
    const lost = downs(dir);
    const provider = await spawnReady('yellow-provider.ts', {
      NOON_YELLOW: yellow.router,
      NOON_HEARTBEAT_MS: String(HB),
      PROVIDER_ID: 'player-g',
    });
    await until(
      'player-g in the directory despite its lost up',
      () => (dir.isAlive('player-g') ? true : undefined),
      10_000,
    );
    const stats = c.watchStats();
    assert.ok((stats?.gaps ?? 0) >= 1, 'a gap was seen');
    assert.ok((stats?.resyncs ?? 0) > resyncsAtStart, 'and a resync followed');
    assert.deepEqual(dir.get('player-g')?.load, { inFlight: 3, elu: 0.25 });

    await kill(provider, 'SIGTERM');
    await until('player-g gone despite its lost down', () => (dir.isAlive('player-g') ? undefined : true), 10_000);
    assert.deepEqual(lost, ['player-g:absent'], 'removed by the resync, the down event having been lost');
  });

  test('a Yellow restart: the consumer resyncs from the new Yellow, and the drain survives', async () => {
    const first = await startYellow();
    const port = portOf(first.router);
    const provider = await spawnReady('yellow-provider.ts', {
      NOON_YELLOW: first.router,
      NOON_HEARTBEAT_MS: String(HB),
      PROVIDER_ID: 'player-r',
    });
    const c = consumer([first.router], { resyncMs: 600_000 });
    const dir = await c.watch();
    await until('player-r in the directory', () => (dir.isAlive('player-r') ? true : undefined), 10_000);
    const firstEpoch = dir.get('player-r')?.epoch ?? Infinity;
    const lost = downs(dir);
    await c.drain('player-r', true);
    await until('player-r draining in the directory', () => (dir.get('player-r')?.draining ? true : undefined), 10_000);
    // The instance itself learns it from its next heartbeat reply.
    await provider.output.waitFor(
      'the provider knows it drains',
      () => provider.output.jsonLine({ draining: true }),
      10_000,
    );

    await kill(first);
    const second = await startYellow(HB, port);
    assert.equal(second.router, first.router);
    const rec = await until(
      'player-r re-registered with the new Yellow',
      async () => (await c.query()).find((r) => r.instanceId === 'player-r'),
      15_000,
    );
    assert.equal(rec.draining, true, 'the new Yellow learned the drain from the registration');
    const restarted = await until(
      'the directory resynced from the new Yellow',
      () => {
        const r = dir.get('player-r');
        return r && r.epoch > firstEpoch ? r : undefined;
      },
      15_000,
    );
    assert.equal(restarted.draining, true);
    assert.deepEqual(dir.instances({ role: 'player' }), [], 'still no new work for it');
    assert.ok((c.watchStats()?.resyncs ?? 0) >= 2);
    assert.equal(lost.filter((d) => d.startsWith('player-r')).length, 0, 'player-r was never down');
  });
});
