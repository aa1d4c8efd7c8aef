/**
 * The hostile-input suite, short form (bench/fuzz.ts runs a million frames): against a cluster of
 * separate processes (`noon up --processes`, so the broker's RSS is its own and the internal plane
 * has its default CURVE keys), mutated compact and binary calls over logged-in connections to the
 * broker (so they reach the player, chat and duel decoders), mutated envelopes straight at a
 * service ROUTER and at Yellow (with a broker's key, so they pass CURVE), slowloris connections and
 * a connection flood past the per-address cap, while a well-behaved client keeps calling. Then
 * authenticated abuse: an internal method, another user's id, a token after logout, an
 * idempotency key reused with other parameters.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Int64 from 'node-int64';
import { NoonClient } from '../../client';
import { Currency, GrantRequest, SpendRequest } from '../../shared/protocol';
import { refusedInput, startFuzzCluster, type FuzzCluster } from '../support/fuzz-cluster';
import { rssMb, runFuzz, type FuzzReport } from '../support/fuzz-run';
import { until } from '../support/wait';
import { ALLOCATOR_ENV } from '../../cli/allocator-env';

const FRAMES = Number(process.env.NOON_FUZZ_FRAMES ?? 50_000);
const PER_IP_CAP = 300;
/**
 * The frame flood's pace: about 3× what the default per-connection limit (100 calls/s) lets its 8
 * connections make. Unpaced, the flooder and the broker share this 2-core machine's cores with the
 * good client, and its p99 measured the contention (85 ms against a 6.6 ms baseline), not the
 * cluster's handling of hostile input (at this pace: 19.8 against 11.1 ms).
 */
const FRAMES_PER_SECOND = 2500;
/**
 * How long the broker's RSS may take to come back within RSS_BOUND of its start: the bench waits
 * 20 s after a million frames; this short run polls for at most 10 s and stops as soon as the
 * bound holds (the run's time stays under ~90 s).
 */
const SETTLE_DEADLINE_MS = 10_000;
/**
 * What the broker holds per client (noon_held on its /metrics): all of it goes with its clients.
 * The flood's connections, sessions, rooms and calls must leave nothing behind once they closed;
 * this is what catches state kept by accident (a session map entry, a room membership, a pending
 * call), which the RSS bound below is too coarse to see.
 */
const HELD = ['broker_connections', 'sessions', 'room_topics', 'pending_calls'];
/** How long the broker may take to notice every close and let its last calls time out. */
const HELD_DEADLINE_MS = 60_000;
/**
 * Heap snapshots of the broker before and after this run (compared by constructor) found no
 * retained objects: what stays is what the broker's V8 heap grew (about 23 MB, kept after the
 * flood) and what the C allocator keeps. The supervisor starts every role
 * with glibc's thresholds fixed (cli/allocator-env.ts), and five runs then ended at 1.14×, 1.16×,
 * 1.14×, 1.18× and, in a CI run, 1.45× their start (1.11–1.64× before). The 1.2× is judged
 * on the million-frame run (bench/fuzz.ts), and this short one keeps the 1.6× bound it had; state
 * kept by accident is caught by the held counts above, which depend on neither.
 */
const RSS_BOUND = 1.6;

/** noon_held{what} of a role's /metrics. */
async function held(metricsUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const out: Record<string, number> = {};
  for (const what of HELD) {
    const line = text.split('\n').find((l) => l.startsWith(`noon_held{what="${what}"}`));
    out[what] = Number(line?.split(' ').pop());
  }
  return out;
}

const nothingHeld = (h: Record<string, number>): boolean => HELD.every((what) => h[what] === 0);

/** The broker's V8 heap in use and reserved, and its external memory, in MB (from its /metrics). */
async function heapMb(metricsUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const out: Record<string, number> = {};
  for (const name of ['nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_external_memory_bytes']) {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    out[name.replace(/^nodejs_|_bytes$/g, '')] = Math.round(Number(line?.split(' ').pop()) / (1 << 20));
  }
  return out;
}
let cluster: FuzzCluster;
let report: FuzzReport;

before(async () => {
  cluster = await startFuzzCluster({
    // Per-connection and login limits raised so the mutations reach the decoders, not the limiters.
    NOON_CALLS_PER_SECOND: '1000000',
    NOON_MAX_IN_FLIGHT: '100000',
    NOON_LOGIN_ATTEMPTS_PER_IP: '1000000',
    NOON_HANDSHAKE_TIMEOUT_MS: '1000',
    NOON_MAX_CONNECTIONS_PER_IP: String(PER_IP_CAP),
    NOON_LOG_LEVEL: 'error',
  });
});

after(async () => {
  const code = await cluster.stop();
  assert.equal(code, 0, 'the cluster still stops cleanly after the flood');
});

const fresh = (username: string): Promise<NoonClient> => cluster.register(username, 'fuzz-password-1');

test(`${FRAMES} hostile frames, ZeroMQ garbage, slowloris and a connection flood: nothing crashes, the good client is served`, async () => {
  const decoderRoles = ['player', 'chat', 'duel'];
  const counts = (): Promise<number[]> => Promise.all(decoderRoles.map((r) => refusedInput(cluster.metricsOf(r))));
  const refusedBefore = await counts();
  const heapBefore = await heapMb(cluster.metricsOf('broker'));
  // The accounts' registrations closed their connections: nothing is held before the flood.
  const heldBefore = await until(
    'the broker holds no client state before the flood',
    async () => {
      const h = await held(cluster.metricsOf('broker'));
      return nothingHeld(h) && h;
    },
    HELD_DEADLINE_MS,
    200,
  );
  let refusedAfterFrames: number[] = [];
  const player = cluster.instances.find((i) => i.role === 'player');
  (await fresh('fuzz-good')).close();
  report = await runFuzz(
    {
      brokerTcp: cluster.brokerTcp,
      pid: cluster.brokerPid,
      serviceRouter: player?.endpoints.router
        ? { endpoint: player.endpoints.router, ...(player.curveKey !== undefined && { curveKey: player.curveKey }) }
        : undefined,
      yellowRouter: cluster.yellow,
      curve: cluster.brokerKeys,
    },
    {
      frames: FRAMES,
      connections: 8,
      framesPerSecond: FRAMES_PER_SECOND,
      zmqFrames: 5000,
      slowloris: 200,
      connectionFlood: 2 * PER_IP_CAP,
      seed: 42,
      username: 'fuzz-good',
      password: 'fuzz-password-1',
      // Read between the phases: what the broker flood alone made each service refuse.
      afterFrameFlood: async () => {
        refusedAfterFrames = await counts();
      },
    },
  );
  const refusedAfterZmq = await counts();
  const rssStart = report.rssMb.before;
  const settled = await until(
    `the broker's RSS back within ${RSS_BOUND}× its start (${rssStart} MB)`,
    () => {
      const now = rssMb(cluster.brokerPid);
      return now <= RSS_BOUND * rssStart && now;
    },
    SETTLE_DEADLINE_MS,
    500,
  ).catch(() => rssMb(cluster.brokerPid));
  const heapAfter = await heapMb(cluster.metricsOf('broker'));
  let heldAfter: Record<string, number> = {};
  await until(
    'every flood connection, session, room and call gone from the broker',
    async () => {
      heldAfter = await held(cluster.metricsOf('broker'));
      return nothingHeld(heldAfter);
    },
    HELD_DEADLINE_MS,
    200,
  ).catch(() => undefined);
  process.stderr.write(`fuzz report: ${JSON.stringify(report)}\n`);
  process.stderr.write(
    `broker memory (MB) before ${JSON.stringify(heapBefore)}, settled ${JSON.stringify(heapAfter)}; held before ${JSON.stringify(heldBefore)}, after ${JSON.stringify(heldAfter)}\n`,
  );
  process.stderr.write(
    `refused input by ${decoderRoles.join('/')}: ${refusedBefore} → ${refusedAfterFrames} (broker flood) → ${refusedAfterZmq} (ZeroMQ flood); broker RSS settled at ${settled} MB\n`,
  );
  assert.equal(report.framesSent, FRAMES);
  assert.equal(report.brokerAlive, true, 'the broker process is alive (no crash, no restart)');
  const brokerEnv = readFileSync(`/proc/${cluster.brokerPid}/environ`, 'latin1').split('\0');
  for (const [k, v] of Object.entries(ALLOCATOR_ENV))
    assert.ok(brokerEnv.includes(`${k}=${v}`), `the supervisor started the broker with ${k}=${v}`);
  decoderRoles.forEach((role, i) => {
    const byFrames = (refusedAfterFrames[i] as number) - (refusedBefore[i] as number);
    assert.ok(byFrames > 0, `${role} refused mutated calls of the broker flood: ${byFrames}`);
  });
  assert.ok(
    (refusedAfterZmq[0] as number) > (refusedAfterFrames[0] as number),
    `player refused mutated envelopes of the ZeroMQ flood: ${refusedAfterFrames[0]} → ${refusedAfterZmq[0]}`,
  );
  assert.equal(report.zmqFramesSent, 10_000);
  for (const [window, stats] of [
    ['during the frame flood', report.during],
    ['during the ZeroMQ flood, slowloris and the connection flood', report.rest],
  ] as const) {
    assert.deepEqual(stats.errorSamples, [], `the good client saw no error ${window}`);
    assert.equal(stats.errors, 0);
    assert.ok(stats.calls > 0, `the good client made calls ${window}`);
  }
  assert.ok(report.baseline.calls > 0);
  // Its p99 against its baseline is printed above and judged in bench/fuzz.ts: a speed target.
  assert.deepEqual(heldAfter, heldBefore, 'the flood left no connection, session, room or call held at the broker');
  assert.ok(settled <= RSS_BOUND * rssStart, `broker RSS settled at ${settled} MB ≤ ${RSS_BOUND} × ${rssStart} MB`);
  assert.equal(report.slowlorisClosedByBroker, 200, 'every slowloris connection was closed by the handshake deadline');
  assert.ok(report.floodAccepted <= PER_IP_CAP, `at most the per-address cap was kept (${report.floodAccepted})`);
  assert.equal(report.floodAccepted + report.floodRefusedOrClosed, 2 * PER_IP_CAP);
  // After the flood, the cluster serves a new client end to end.
  const after = await fresh('fuzz-after');
  assert.equal(Number((await after.player.getWallet()).soft?.toString()), 1000);
  after.close();
});

test('authenticated abuse gets clear refusals', async () => {
  const eve = await fresh('fuzz-eve');
  const victim = await fresh('fuzz-victim');
  try {
    // An internal method, crediting another user: refused at the broker.
    await assert.rejects(
      eve.player.grant(
        new GrantRequest({
          idempotencyKey: 'x',
          userId: victim.session?.userId ?? '',
          soft: new Int64(77_777),
          hard: new Int64(0),
          reason: 'mint',
        }),
      ),
      /FORBIDDEN: Player:grant is internal/,
    );
    assert.equal(Number((await victim.player.getWallet()).soft?.toString()), 1000, 'nothing was credited');
    // An idempotency key reused with other parameters.
    const spend = (amount: number): Promise<unknown> =>
      eve.player.spendCurrency(
        new SpendRequest({ idempotencyKey: 'k-1', currency: Currency.SOFT, amount: new Int64(amount), reason: 'r' }),
      );
    await spend(5);
    await assert.rejects(spend(6), (err: Error & { code?: number }) => /idempotency|key/i.test(err.message ?? ''));
    assert.equal(
      Number((await eve.player.getWallet()).soft?.toString()),
      995,
      'applied once, the reuse changed nothing',
    );
    // A token after logout.
    const token = eve.session?.token ?? '';
    await eve.sso.logout();
    const other = await NoonClient.viaBrokerList(cluster.brokerlist, { reconnect: false });
    try {
      await assert.rejects(other.sso.resume(token));
      await assert.rejects(other.player.getWallet(), /UNAUTHENTICATED/);
    } finally {
      other.close();
    }
  } finally {
    eve.close();
    victim.close();
  }
});
