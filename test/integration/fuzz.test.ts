/**
 * The hostile-input suite, short form (bench/fuzz.ts runs a million frames): against a whole
 * cluster (`noon up`, one process), mutated compact and binary calls over many connections to the
 * broker over logged-in connections (so they reach the player, chat and duel decoders), garbage and mutated envelopes straight at a service ROUTER and at Yellow, slowloris
 * connections and a connection flood past the per-address cap, while a well-behaved client keeps
 * calling. Then authenticated abuse: an internal method, another user's id, a token after
 * logout, an idempotency key reused with other parameters. Counts are printed; the assertions are
 * that nothing crashed, the good client saw no error, and every abuse got its clear refusal.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Int64 from 'node-int64';
import { NoonClient } from '../../client';
import { Currency, GrantRequest, SpendRequest } from '../../shared/protocol';
import { cleanEnv, clusterFlags, NoonProc, runNoon, tempDir } from '../support/cli-proc';
import { runFuzz, type FuzzReport } from '../support/fuzz-run';

const FRAMES = Number(process.env.NOON_FUZZ_FRAMES ?? 50_000);
const PER_IP_CAP = 300;
const data = tempDir('noon-fuzz-');
let up: NoonProc;
let ready: Record<string, unknown>;
let report: FuzzReport;

before(async () => {
  // Per-connection limits raised so the mutations reach the decoders instead of the rate limiter.
  const env = cleanEnv({
    NOON_CALLS_PER_SECOND: '1000000',
    NOON_MAX_IN_FLIGHT: '100000',
    NOON_HANDSHAKE_TIMEOUT_MS: '1000',
    NOON_MAX_CONNECTIONS_PER_IP: String(PER_IP_CAP),
    NOON_LOG_LEVEL: 'error',
  });
  up = new NoonProc(['up', ...clusterFlags(data.dir)], env);
  ready = await up.waitFor('ready line', () => up.jsonLine({ ready: 'up' }), 90_000);
});

after(async () => {
  const exit = await up.stop('SIGINT');
  data.remove();
  assert.equal(exit.code, 0, 'the cluster still stops cleanly after the flood');
});

/**
 * What a service refused as bad input: calls answered with an error before or by its handler
 * (a mutated message fails to decode) plus requests dropped before any handler (text a database
 * cannot store, internal methods).
 */
async function refusedInput(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  let n = 0;
  for (const line of text.split('\n'))
    if (
      (line.startsWith('noon_calls_total{') && line.includes('outcome="error"')) ||
      line.startsWith('noon_dropped_total{')
    )
      n += Number(line.split(' ').pop());
  return n;
}

async function fresh(username: string): Promise<NoonClient> {
  const c = await NoonClient.viaBrokerList(String(ready.brokerlist), { reconnect: false });
  await c.sso.register(username, 'fuzz-password-1');
  return c;
}

test(`${FRAMES} hostile frames, ZeroMQ garbage, slowloris and a connection flood: nothing crashes, a good client sees no error`, async () => {
  const yellow = String(ready.yellow);
  const instances = JSON.parse((await runNoon(['yellow', 'instances', '--json', '--yellow', yellow])).stdout) as Array<{
    role: string;
    endpoints: { router?: string; metrics?: string };
  }>;
  const player = instances.find((i) => i.role === 'player')?.endpoints.router;
  const metricsOf = (role: string): string => String(instances.find((i) => i.role === role)?.endpoints.metrics);
  const decoderRoles = ['player', 'chat', 'duel'];
  const refusedBefore = await Promise.all(decoderRoles.map((r) => refusedInput(metricsOf(r))));
  (await fresh('fuzz-good')).close();
  report = await runFuzz(
    {
      brokerTcp: String((ready.broker as { tcp: string }).tcp),
      pid: up.pid,
      serviceRouter: player,
      yellowRouter: yellow,
    },
    {
      frames: FRAMES,
      connections: 8,
      zmqFrames: 5000,
      slowloris: 200,
      connectionFlood: 2 * PER_IP_CAP,
      seed: 42,
      username: 'fuzz-good',
      password: 'fuzz-password-1',
    },
  );
  process.stderr.write(`fuzz report: ${JSON.stringify(report)}\n`);
  assert.equal(report.framesSent, FRAMES);
  // The flood's connections are logged in, so its mutations pass the broker's login check. Open:
  // chat and duel count nothing in this run (printed below), and the player's count is read after
  // the ZeroMQ flood too, which also reaches its decoder; the broker flood's own share is not
  // isolated yet.
  const refusedAfter = await Promise.all(decoderRoles.map((r) => refusedInput(metricsOf(r))));
  process.stderr.write(`refused input by ${decoderRoles.join('/')}: ${refusedBefore} → ${refusedAfter}\n`);
  assert.ok(
    (refusedAfter[0] as number) > (refusedBefore[0] as number),
    `player refused mutated calls: ${refusedBefore[0]} → ${refusedAfter[0]}`,
  );
  assert.equal(report.zmqFramesSent, 10_000);
  assert.equal(report.brokerAlive, true, 'the cluster process is alive');
  assert.deepEqual(report.during.errorSamples, [], 'the good client saw no error during the flood');
  assert.equal(report.during.errors, 0);
  assert.ok(report.during.calls > 0 && report.baseline.calls > 0);
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
    const other = await NoonClient.viaBrokerList(String(ready.brokerlist), { reconnect: false });
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
