/**
 * Calls in flight on a service instance that goes away, through a real broker, with the instance
 * a separate process (test/support/slow-report-service.ts: `report` takes 500 ms, is not
 * idempotent, and says when it started and when it was applied):
 *
 * - SIGTERM (a rolling restart): the instance deregisters, answers every call it was sent, then
 *   exits 0. Every call succeeds: none is failed, none outcome-unknown.
 * - SIGSTOP: the stopped instance is declared down with a call sitting in its socket; it runs the
 *   call after SIGCONT. The client must not be told the call failed: its outcome is unknown.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Int64 from 'node-int64';
import { loadConfig, type Config } from '../../shared/config';
import { silentLogger } from '../../shared/log';
import { YellowServer } from '../../yellow/server';
import { startBrokerRole, type RunningBroker } from '../../roles/broker';
import { NoonClient } from '../../client';
import { killAll, spawnReady, type Child } from '../support/yellow-harness';
import { until } from '../support/wait';

const HB = 200;
let yellow: YellowServer;
let router: string;
let broker: RunningBroker;
let client: NoonClient | undefined;
let cfg: Config;

async function slowInstance(): Promise<Child> {
  return spawnReady(
    'slow-report-service.ts',
    { NOON_YELLOW: router, NOON_HEARTBEAT_MS: String(HB), NOON_HOST: '127.0.0.1', NOON_METRICS_PORT: '0' },
    60_000,
  );
}

/**
 * Until the broker routes to every one of these instances (Leaderboard:top names the instance
 * that answered). Each probe has a client of its own: a connection that called a method the
 * broker had not learnt yet is closed by it.
 */
async function routedTo(ids: string[]): Promise<void> {
  const seen = new Set<string>();
  await until(
    `the broker routing to ${ids.join(', ')}`,
    async () => {
      const probe = await NoonClient.connect({ tcp: String(broker.ready.tcp) }, { reconnect: false });
      try {
        for (let i = 0; i < 8; i++) for (const e of await probe.leaderboard.top('route', 1)) seen.add(e.userId ?? '');
      } finally {
        probe.close();
      }
      return ids.every((id) => seen.has(id)) ? true : undefined;
    },
    30_000,
    50,
  );
  client ??= await NoonClient.connect({ tcp: String(broker.ready.tcp) }, { reconnect: false, callTimeoutMs: 20_000 });
}

before(async () => {
  yellow = new YellowServer({ host: '127.0.0.1', port: 0, heartbeatMs: HB, logger: silentLogger() });
  router = (await yellow.start()).router;
  cfg = loadConfig(
    { yellow: [router], heartbeatMs: HB, brokerPort: 0, brokerWsPort: 0, metricsPort: 0, logLevel: 'silent' },
    {},
  );
  broker = await startBrokerRole(cfg, silentLogger());
});

after(async () => {
  client?.close();
  killAll();
  await broker.stop();
  await yellow.stop();
});

const report = (board: string): Promise<string> =>
  (client as NoonClient).leaderboard.report(board, 'u', 'u', new Int64(1), board).then(
    (r) => `ok ${r.userId ?? ''}`,
    (err: Error) => `error ${err.message}`,
  );

test('SIGTERM: the instance answers every call in flight on it before it exits; none fails', async () => {
  const a = await slowInstance();
  const b = await slowInstance();
  after(() => b.proc.kill('SIGKILL'));
  const aId = String(a.ready.instanceId);
  await routedTo([aId, String(b.ready.instanceId)]);
  const calls = Array.from({ length: 6 }, (_, i) => report(`term-${i}`));
  const onA = await a.output.waitFor(
    'a call in flight on the instance to stop',
    () => a.output.stdout.find((l) => l.includes('"started"')),
    20_000,
  );
  a.proc.kill('SIGTERM');
  const outcomes = await Promise.all(calls);
  assert.deepEqual(
    outcomes.filter((o) => !o.startsWith('ok ')),
    [],
    `every call succeeded (${onA} was in flight on ${aId} at SIGTERM)`,
  );
  assert.ok(outcomes.includes(`ok ${aId}`), `the draining instance answered its own calls: ${outcomes.join(', ')}`);
  await a.exited;
  assert.equal(a.proc.exitCode, 0, 'it stopped cleanly');
  b.proc.kill('SIGTERM');
  await b.exited;
});

test('SIGSTOP: a call sitting in a stopped instance when it is declared down is outcome-unknown, not failed', async () => {
  const a = await slowInstance();
  const aId = String(a.ready.instanceId);
  await routedTo([aId]);
  assert.equal(await report('warm'), `ok ${aId}`);
  a.proc.kill('SIGSTOP');
  const outcome = await report('stopped');
  a.proc.kill('SIGCONT');
  // It runs the call it found in its socket once it resumes: the write happened.
  await a.output.waitFor('the call applied after SIGCONT', () => a.output.jsonLine({ applied: 'stopped' }), 30_000);
  assert.match(outcome, /^error TIMEOUT: outcome unknown/, `told the outcome is unknown, never failed: ${outcome}`);
  a.proc.kill('SIGTERM');
  await a.exited;
});
