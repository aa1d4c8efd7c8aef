/**
 * Yellow with real processes: Yellow servers and a provider are children (SIGKILLed by pid),
 * the consumer (YellowClient + Directory) runs in the test process.
 */
import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import { silentLogger } from '../../shared/log';
import { YellowClient } from '../../yellow/client';
import type { Directory, DirectoryEvents } from '../../yellow/directory';
import { kill, killAll, portOf, spawnReady, type Child } from '../support/yellow-harness';
import { nextEvent, until } from '../support/wait';

const HB = 200;
const MISS = 3;
/** Scheduling slack on a loaded 2-core machine, on top of the protocol's own bounds. */
const SLACK = 400;

function yellowEnv(port = 0): Record<string, string> {
  return { NOON_HOST: '127.0.0.1', NOON_YELLOW_PORT: String(port), NOON_HEARTBEAT_MS: String(HB) };
}

async function startYellow(port = 0): Promise<Child & { router: string }> {
  const child = await spawnReady('yellow-proc.ts', yellowEnv(port));
  return { ...child, router: String(child.ready.router) };
}

function startProvider(id: string, yellows: string[]): Promise<Child> {
  return spawnReady('yellow-provider.ts', {
    NOON_YELLOW: yellows.join(','),
    NOON_HEARTBEAT_MS: String(HB),
    PROVIDER_ID: id,
  });
}

const clients: YellowClient[] = [];
function consumer(endpoints: string[], queryTimeoutMs = HB * 2): YellowClient {
  const c = new YellowClient({ endpoints, heartbeatMs: HB, logger: silentLogger(), queryTimeoutMs });
  clients.push(c);
  return c;
}

function onDir<K extends keyof DirectoryEvents>(dir: Directory, ev: K) {
  return (fn: (...args: DirectoryEvents[K]) => void): (() => void) => {
    dir.on(ev, fn);
    return () => dir.off(ev, fn);
  };
}

/** Records every `down` a directory emits, to prove none happened. */
function downs(dir: Directory): string[] {
  const out: string[] = [];
  dir.on('down', (d) => out.push(`${d.instanceId}:${d.reason}`));
  return out;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()));
  killAll();
});
after(() => killAll());

describe('Yellow cluster', () => {
  test('(a) a registered provider is queryable; after SIGKILL a watcher sees down within 3 intervals + a poll', async () => {
    const yellow = await startYellow();
    const provider = await startProvider('player-a', [yellow.router]);
    const c = consumer([yellow.router]);
    const [rec] = await c.query({ service: 'Player' });
    assert.ok(rec, 'provider is listed');
    assert.equal(rec.instanceId, 'player-a');
    assert.equal(rec.endpoints.router, 'tcp://127.0.0.1:45001');
    assert.deepEqual(rec.load, { inFlight: 3, elu: 0.25 });
    assert.ok(rec.epoch > 0);

    const dir = await c.watch();
    assert.equal(dir.isAlive('player-a'), true);
    const down = nextEvent(onDir(dir, 'down'), (d) => d.instanceId === 'player-a', 'down of player-a', 10 * HB);
    const killedAt = Date.now();
    await kill(provider);
    const [info] = await down;
    const elapsed = Date.now() - killedAt;
    assert.equal(info.reason, 'expired');
    // Its last beat was at most one interval before the kill, so expiry can't come before 2 intervals.
    assert.ok(elapsed >= (MISS - 1) * HB, `down after ${elapsed} ms is premature`);
    assert.ok(elapsed <= MISS * HB + HB + SLACK, `down after ${elapsed} ms is late`);
    // Only Yellow's own registration of itself is left.
    assert.deepEqual(
      (await c.query()).map((r) => r.role),
      ['yellow'],
    );
  });

  test('(b) Yellow SIGKILLed and restarted on its port: provider re-registers by itself; the Directory kept its table', async () => {
    const first = await startYellow();
    const port = portOf(first.router);
    await startProvider('player-b', [first.router]);
    const c = consumer([first.router]);
    const dir = await c.watch();
    await until('player-b in the directory', () => (dir.isAlive('player-b') ? true : undefined), 5 * HB);
    const lost = downs(dir);
    const firstEpoch = dir.get('player-b')?.epoch ?? Infinity;

    await kill(first);
    // The query deadline (> 3 intervals) lets several poll rounds fail meanwhile.
    await assert.rejects(consumer([first.router], (MISS + 1) * HB).query(), /UNAVAILABLE/);
    assert.equal(dir.isAlive('player-b'), true, 'table kept while Yellow is down');

    const second = await startYellow(port);
    assert.equal(second.router, first.router);
    const rec = await until(
      'player-b re-registered with the new Yellow',
      async () => (await c.query()).find((r) => r.instanceId === 'player-b'),
      10 * HB,
    );
    assert.ok(rec.epoch > firstEpoch, 'the restarted Yellow gives a newer epoch');

    // The watcher must have followed the new Yellow's PUB: a drain shows up as a change.
    const changed = nextEvent(
      onDir(dir, 'change'),
      (r) => r.instanceId === 'player-b' && r.draining,
      'draining change',
      10 * HB,
    );
    await c.drain('player-b', true);
    await changed;
    assert.deepEqual(dir.instances({ role: 'player' }), []);
    assert.equal(dir.instances({ role: 'player', includeDraining: true }).length, 1);
    assert.deepEqual(lost, [], 'no down event at any point');
  });

  test('(c) two Yellows: provider registers with both; killing one loses nothing', async () => {
    const [y1, y2] = await Promise.all([startYellow(), startYellow()]);
    await startProvider('player-c', [y1.router, y2.router]);
    for (const y of [y1, y2]) {
      await until(
        `player-c on ${y.router}`,
        async () => (await consumer([y.router]).query()).find((r) => r.instanceId === 'player-c'),
        10 * HB,
      );
    }
    const both = consumer([y1.router, y2.router]);
    const dir = await both.watch();
    await until('player-c in the directory', () => (dir.isAlive('player-c') ? true : undefined), 5 * HB);
    const lost = downs(dir);

    await kill(y1);
    await assert.rejects(consumer([y1.router], (MISS + 1) * HB).query(), /UNAVAILABLE/);
    assert.ok(
      (await both.query()).some((r) => r.instanceId === 'player-c'),
      'query via the survivor',
    );
    assert.equal(dir.isAlive('player-c'), true);
    assert.deepEqual(lost, []);
  });

  test('(d) SIGTERM: a provider deregisters (down at once, not by expiry); Yellow exits 0', async () => {
    const yellow = await startYellow();
    const provider = await startProvider('player-d', [yellow.router]);
    const dir = await consumer([yellow.router]).watch();
    await until('player-d in the directory', () => (dir.isAlive('player-d') ? true : undefined), 5 * HB);
    const down = nextEvent(onDir(dir, 'down'), (d) => d.instanceId === 'player-d', 'down of player-d', 10 * HB);
    await kill(provider, 'SIGTERM');
    // The PUB event says 'deregistered'; a poll that lands first says 'absent'. Either way it left
    // at once, not by expiry.
    assert.notEqual((await down)[0].reason, 'expired');
    await kill(yellow, 'SIGTERM');
    assert.equal(yellow.proc.exitCode, 0);
  });
});
