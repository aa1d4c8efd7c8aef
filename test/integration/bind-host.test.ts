/**
 * Bind versus advertised address on real listeners: every role binds NOON_BIND_HOST (127.0.0.3)
 * and registers NOON_HOST (127.0.0.2) in Yellow. Each port answers on the bind address and is
 * refused on the advertised one here (nothing translates 127.0.0.2 to 127.0.0.3), which shows
 * which address each listener used for what.
 */
import { strict as assert } from 'node:assert';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../shared/config';
import { silentLogger } from '../../shared/log';
import { startYellowRole } from '../../roles/yellow';
import { startBrokerListRole } from '../../roles/brokerlist';
import type { RunningRole } from '../../roles/host';
import { fakeSso } from '../support/broker-fakes';
import { startBrokerCluster, type BrokerCluster } from '../support/broker-cluster';
import { lbModule } from '../support/lb-module';
import { until } from '../support/wait';
import { YellowClient } from '../../yellow/client';
import type { InstanceRecord } from '../../yellow/types';

const BIND = '127.0.0.3';
const ADVERTISED = '127.0.0.2';
let cluster: BrokerCluster;
const roles: RunningRole[] = [];
let ownYellow: RunningRole;

before(async () => {
  cluster = await startBrokerCluster({
    modules: [{ module: fakeSso }, { module: lbModule }],
    config: { bindHost: BIND, host: ADVERTISED },
  });
  const cfg = loadConfig({ ...cluster.cfg, yellowPort: 0, brokerlistPort: 0, metricsPort: 0 }, {});
  roles.push(await startBrokerListRole(cfg, silentLogger()));
  ownYellow = await startYellowRole(cfg, silentLogger());
  roles.push(ownYellow);
});

after(async () => {
  for (const r of roles.reverse()) await r.stop();
  await cluster.stop();
});

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function hostPort(endpoint: string): { host: string; port: number } {
  const m = endpoint.match(/^(?:[a-z]+:\/\/)?([^/:]+):(\d+)(?:\/.*)?$/);
  assert.ok(m, `not an endpoint: ${endpoint}`);
  return { host: m[1]!, port: Number(m[2]) };
}

test('every role binds NOON_BIND_HOST and registers NOON_HOST for each of its listeners', async () => {
  const want = ['sso', 'leaderboard', 'broker', 'brokerlist'];
  const records: InstanceRecord[] = await until('every role registered', () => {
    const rs = cluster.directory.instances().filter((r) => r.host === ADVERTISED);
    return want.every((role) => rs.some((r) => r.role === role)) ? rs : undefined;
  });
  // The Yellow role registers in itself; ask it on its bind address.
  const yellowPort = hostPort(String(ownYellow.ready.router)).port;
  const asker = new YellowClient({
    endpoints: [`tcp://${BIND}:${yellowPort}`],
    heartbeatMs: 100,
    logger: silentLogger(),
  });
  try {
    const own = await until('the Yellow role lists itself', async () =>
      (await asker.query({ role: 'yellow' })).find((r) => r.host === ADVERTISED),
    );
    records.push(own);
  } finally {
    await asker.stop();
  }
  const kinds = new Set<string>();
  for (const r of records) {
    const endpoints = Object.entries(r.endpoints).filter(([, v]) => typeof v === 'string' && v !== '');
    assert.ok(endpoints.length >= 2, `${r.role} registered ${JSON.stringify(r.endpoints)}`);
    for (const [kind, endpoint] of endpoints) {
      const { host, port } = hostPort(String(endpoint));
      assert.equal(host, ADVERTISED, `${r.role} ${kind} advertised ${String(endpoint)}`);
      assert.ok(await accepts(BIND, port), `${r.role} ${kind} does not listen on the bind address ${BIND}:${port}`);
      assert.equal(await accepts(ADVERTISED, port), false, `${r.role} ${kind} also listens on ${ADVERTISED}:${port}`);
      kinds.add(kind);
    }
  }
  for (const kind of ['router', 'pub', 'tcp', 'ws', 'http', 'metrics'])
    assert.ok(kinds.has(kind), `no ${kind} listener`);
});
