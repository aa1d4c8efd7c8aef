/**
 * The probes a supervisor (Kubernetes, systemd, a load balancer) asks every role, on its metrics
 * port: /healthz is the process answering, whatever its dependencies do; /readyz is "send me
 * work": 503 until a Yellow acknowledged the registration, 200 then, 503 while draining (an
 * operator's `noon yellow drain`, or its own SIGTERM), 200 again on undrain. Real `noon start`
 * processes (Yellow and a broker, role keys in their data directory).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanEnv, NoonProc, runNoon, tempDir } from '../support/cli-proc';
import { until } from '../support/wait';

const data = tempDir('noon-probes-');
const env = cleanEnv({
  NOON_DATA_DIR: data.dir,
  NOON_HEARTBEAT_MS: '200',
  NOON_METRICS_PORT: '0',
  NOON_YELLOW_PORT: '0',
  NOON_BROKER_PORT: '0',
  NOON_BROKER_WS_PORT: '0',
  NOON_LOG_LEVEL: 'warn',
});
let yellow: NoonProc;
let yellowEndpoint = '';

async function probe(url: string): Promise<{ status: number; body: string }> {
  const r = await fetch(url);
  return { status: r.status, body: (await r.text()).trim() };
}

before(async () => {
  yellow = new NoonProc(['start', 'yellow'], env);
  yellowEndpoint = String((await yellow.ready(60_000, 'yellow')).router);
});

after(async () => {
  await yellow?.stop('SIGTERM');
  data.remove();
});

test('a broker: alive at once, ready once registered, unready while drained, ready again, and SIGTERM exits 0', async () => {
  // Yellow itself: registered in itself, so ready
  const yellowMetrics = String(yellow.jsonLine({ ready: 'yellow' })?.metrics);
  await until(
    'Yellow ready',
    async () => ((await probe(yellowMetrics.replace('/metrics', '/readyz'))).status === 200 ? true : undefined),
    10_000,
  );

  const broker = new NoonProc(['start', 'broker'], { ...env, NOON_YELLOW: yellowEndpoint });
  try {
    const ready = await broker.ready(60_000, 'broker');
    const base = String(ready.metrics).replace('/metrics', '');
    const id = String(ready.instanceId);
    assert.deepEqual(await probe(`${base}/healthz`), { status: 200, body: 'ok' });
    await until(
      'the broker ready',
      async () => ((await probe(`${base}/readyz`)).status === 200 ? true : undefined),
      10_000,
    );

    const ops = ['--yellow', yellowEndpoint, '--data-dir', data.dir];
    assert.equal((await runNoon(['yellow', 'drain', id, ...ops], env)).code, 0);
    const drained = await until(
      'the broker unready while drained',
      async () => {
        const r = await probe(`${base}/readyz`);
        return r.status === 503 ? r : undefined;
      },
      10_000,
    );
    assert.equal(drained.body, 'draining');
    assert.deepEqual(await probe(`${base}/healthz`), { status: 200, body: 'ok' }, 'drained is still alive');

    assert.equal((await runNoon(['yellow', 'drain', id, '--undo', ...ops], env)).code, 0);
    await until(
      'the broker ready again',
      async () => ((await probe(`${base}/readyz`)).status === 200 ? true : undefined),
      10_000,
    );

    const exit = await broker.stop('SIGTERM');
    assert.equal(exit.code, 0, broker.tail());
  } finally {
    if (broker.alive) await broker.stop('SIGKILL');
  }
});

test('unknown paths are 404, not a probe', async () => {
  const metrics = String(yellow.jsonLine({ ready: 'yellow' })?.metrics);
  assert.equal((await probe(metrics.replace('/metrics', '/nope'))).status, 404);
});
