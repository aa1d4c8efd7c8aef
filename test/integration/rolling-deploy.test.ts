/**
 * A rolling deploy through a real broker, Yellow and ZeroMQ: a Leaderboard instance on release 1
 * (top, ping) and one on release 2, which adds `around`. While both run, `around` always goes to
 * release 2 and `top` reaches both; with release 2 drained, `around` is UNAVAILABLE naming the
 * method, not an unknown-method strike (the anonymous connection stays open); then release 1 is
 * drained and stopped while calls keep coming, and not one of them fails.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Leaderboard, Pong, RankEntry } from '../../shared/protocol';
import { silentLogger } from '../../shared/log';
import type { ServiceDef, ServiceModule, WithContext } from '../../rpc/api';
import { startService, type RunningService } from '../../roles/service';
import { YellowClient } from '../../yellow/client';
import { startBrokerCluster, type BrokerCluster } from '../support/broker-cluster';
import { rawClient, type RawClient } from '../support/raw-client';
import { until } from '../support/wait';
import { traced } from '../support/traced';

/** Leaderboard as release 1 or 2 serves it: every answer names the instance that produced it. */
function release(n: 1 | 2): ServiceModule<Leaderboard.IHandler> {
  return {
    role: 'leaderboard',
    migrations: [],
    build: (env): ServiceDef<Leaderboard.IHandler> => {
      const entry = (board: string): RankEntry =>
        new RankEntry({ userId: env.instanceId, username: board, score: n, rank: 1 });
      const handlers: Partial<WithContext<Leaderboard.IHandler>> = {
        top: (board) => [entry(board)],
        ping: () => new Pong({ instance: env.instanceId, serviceName: `Leaderboard r${n}`, serverTimeMs: Date.now() }),
        ...(n === 2 ? { around: (board: string) => [entry(board)] } : {}),
      };
      return {
        role: 'leaderboard',
        thriftService: 'Leaderboard',
        processor: Leaderboard.Processor,
        stateful: false,
        publicMethods: n === 2 ? ['ping', 'top', 'around'] : ['ping', 'top'],
        idempotentMethods: ['ping', 'top'],
        // release 1 has no `around` handler: it does not announce the method at all
        handlers: handlers as WithContext<Leaderboard.IHandler>,
      };
    },
  };
}

let cluster: BrokerCluster;
let tcp = '';
let yellow: YellowClient;
let v1: RunningService;
let v2: RunningService;
let v1Id = '';
let v2Id = '';
const clients: RawClient[] = [];

const who = async (call: Promise<RankEntry[]>): Promise<string> => (await call)[0]?.userId ?? '';

async function client(): Promise<RawClient> {
  const c = await rawClient(tcp);
  clients.push(c);
  return c;
}

/** Polls with a fresh connection each time: an anonymous call to a method the broker has not learnt closes it. */
async function untilAnswers(what: string, call: (c: RawClient) => Promise<boolean>): Promise<void> {
  await until(
    what,
    async () => {
      const c = await rawClient(tcp);
      try {
        return await call(c);
      } finally {
        c.close();
      }
    },
    30_000,
    50,
  );
}

before(async () => {
  cluster = await startBrokerCluster({ modules: [{ module: release(1) }], config: { callsPerSecond: 100_000 } });
  tcp = cluster.brokers[0]!.endpoints.tcp;
  v1 = cluster.services[0]!;
  v1Id = String(v1.ready.instanceId);
  await untilAnswers('the broker routes to release 1', async (c) => (await who(c.leaderboard.top('b', 1))) === v1Id);
  const build = release(2).build;
  v2 = await startService('leaderboard', (env) => build(env, { db: undefined as never, kv: cluster.kv }), {
    cfg: cluster.cfg,
    logger: silentLogger(),
  });
  v2Id = String(v2.ready.instanceId);
  await untilAnswers(
    'the broker routes around to release 2',
    async (c) => (await who(c.leaderboard.around('b', 1))) === v2Id,
  );
  yellow = new YellowClient({
    endpoints: cluster.cfg.yellow,
    heartbeatMs: cluster.cfg.heartbeatMs,
    logger: silentLogger(),
  });
});

after(async () => {
  for (const c of clients) c.close();
  await yellow?.stop();
  await v2?.stop();
  await cluster?.stop();
});

test('both releases live: the new method only on release 2, the old ones on both, no strike', async () => {
  const c = await client();
  const aroundBy = new Map<string, number>();
  for (let i = 0; i < 200; i++) {
    const id = await who(c.leaderboard.around('b', 1));
    aroundBy.set(id, (aroundBy.get(id) ?? 0) + 1);
  }
  assert.deepEqual([...aroundBy], [[v2Id, 200]], 'all 200 around calls answered by release 2');
  const topBy = new Set<string>();
  let topCalls = 0;
  await until('top reaches both releases', async () => {
    topCalls++;
    topBy.add(await who(c.leaderboard.top('b', 1)));
    return topBy.size === 2;
  });
  assert.deepEqual([...topBy].sort(), [v1Id, v2Id].sort());
  assert.ok(topCalls >= 2);
  assert.equal(c.socket.destroyed, false, 'the anonymous connection is open: no strike');
});

test('release 2 drained: around is UNAVAILABLE naming the method, never a strike; undrained it serves again', async () => {
  const c = await client();
  await yellow.drain(v2Id, true);
  const message = traced(
    'UNAVAILABLE: Leaderboard:around: none of the 1 live Leaderboard instance serves it (its release is not running yet, or not any more)',
  );
  await until('the broker sees release 2 drain', async () =>
    c.leaderboard.around('b', 1).then(
      () => false,
      (e: Error) => message.test(e.message),
    ),
  );
  // an anonymous connection is closed at its first unknown method: five of these are not that
  for (let i = 0; i < 5; i++) await assert.rejects(c.leaderboard.around('b', 1), { message });
  assert.equal(await who(c.leaderboard.top('b', 1)), v1Id, 'release 1 still serves top');
  await yellow.drain(v2Id, false);
  await until('release 2 takes work again', async () => (await who(c.leaderboard.around('b', 1))) === v2Id);
  assert.equal(c.socket.destroyed, false);
});

test('release 1 drained, then stopped, while calls keep coming: nothing fails', async () => {
  const c = await client();
  const failures: string[] = [];
  let calls = 0;
  const seen = new Set<string>();
  let running = true;
  const traffic = (async () => {
    while (running) {
      for (const call of [c.leaderboard.top('b', 1), c.leaderboard.around('b', 1)]) {
        calls++;
        await who(call).then(
          (id) => seen.add(id),
          (e: Error) => failures.push(e.message),
        );
      }
    }
  })();
  await until('traffic flows', () => calls >= 20);
  await yellow.drain(v1Id, true);
  // the broker stopped sending to release 1: 50 top calls in a row answered by release 2
  await until(
    'release 1 takes no new work',
    async () => {
      for (let i = 0; i < 50; i++) if ((await who(c.leaderboard.top('b', 1))) !== v2Id) return false;
      return true;
    },
    30_000,
  );
  await v1.stop();
  const atStop = calls;
  await until('100 more calls after release 1 stopped', () => calls >= atStop + 100, 30_000);
  running = false;
  await traffic;
  assert.deepEqual(failures, [], `${failures.length} of ${calls} calls failed`);
  assert.ok(seen.has(v2Id));
  assert.equal(await who(c.leaderboard.top('b', 1)), v2Id);
  assert.equal(await who(c.leaderboard.around('b', 1)), v2Id);
  assert.equal(c.socket.destroyed, false);
});
