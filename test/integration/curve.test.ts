/**
 * Internal-plane intrusion with CURVE on: the cluster works end to end over CURVE, and a
 * rogue key, a plaintext client and a client pinning the wrong server key are refused at the
 * handshake (ZAP allowlist, fail-closed), on a service's ROUTER and on Yellow's.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as zmq from 'zeromq';
import { loadConfig } from '../../shared/config';
import { stopZap } from '../../shared/curve';
import { silentLogger } from '../../shared/log';
import { YellowServer } from '../../yellow/server';
import { YellowClient } from '../../yellow/client';
import { startService, type RunningService } from '../../roles/service';
import { Links } from '../../rpc/links';
import { ServiceCaller } from '../../rpc/caller';
import { serviceClients } from '../../rpc/clients';
import { lbModule } from '../support/lb-module';
import type { Db } from '../../shared/data/sql';
import { MemoryKv } from '../../shared/data/memory-kv';
import { startBrokerRole } from '../../roles/broker';
import { rawClient } from '../support/raw-client';
import { until } from '../support/wait';

const cluster = zmq.curveKeyPair();
const rogue = zmq.curveKeyPair();
const keys = { publicKey: cluster.publicKey, secretKey: cluster.secretKey, allow: [] };
let yellow: YellowServer;
let yellowRouter: string;
let service: RunningService;
let client: YellowClient;
let links: Links;

before(async () => {
  yellow = new YellowServer({ host: '127.0.0.1', port: 0, heartbeatMs: 100, logger: silentLogger(), curve: keys });
  yellowRouter = (await yellow.start()).router;
  const cfg = loadConfig(
    {
      yellow: [yellowRouter],
      heartbeatMs: 100,
      curvePublic: cluster.publicKey,
      curveSecret: cluster.secretKey,
      logLevel: 'silent',
    },
    {},
  );
  service = await startService(
    'leaderboard',
    (env) => lbModule.build(env, { db: undefined as unknown as Db, kv: new MemoryKv() }),
    { cfg, logger: silentLogger() },
  );
  client = new YellowClient({ endpoints: [yellowRouter], heartbeatMs: 100, logger: silentLogger(), curve: keys });
  links = new Links({
    identity: 'curve-test',
    logger: silentLogger(),
    maxQueued: 100,
    maxPayload: 1 << 20,
    curve: keys,
  });
});

after(async () => {
  links?.close();
  await client?.stop();
  await service?.stop();
  await yellow?.stop();
  stopZap();
});

test('over CURVE, an instance registers with Yellow and serves calls', async () => {
  const directory = await client.watch();
  await until(
    'the service registered over CURVE',
    () => directory.instances({ thriftService: 'Leaderboard' }).length === 1,
    5000,
  );
  const clients = serviceClients(new ServiceCaller(directory, links), () => ({
    sessionId: '',
    userId: '',
    traceId: 't',
    via: 'test',
    deadline: Date.now() + 3000,
  }));
  assert.equal((await clients.leaderboard.top('b', 1)).length, 1);
});

/** Connects a DEALER with these options and resolves with the first handshake outcome event. */
function handshake(endpoint: string, options: Partial<zmq.Dealer>): Promise<string> {
  const d = new zmq.Dealer({ linger: 0, ...options });
  return new Promise<string>((resolve) => {
    for (const type of [
      'handshake',
      'handshake:error:auth',
      'handshake:error:protocol',
      'handshake:error:other',
    ] as const) {
      d.events.on(type, () => {
        resolve(type);
        d.close();
      });
    }
    d.connect(endpoint);
  });
}

test('a rogue key, a plaintext peer and a wrong pinned server key fail the handshake, on a service and on Yellow', async () => {
  const targets = { service: service.endpoints.router, yellow: yellowRouter };
  for (const [name, endpoint] of Object.entries(targets)) {
    assert.equal(
      await handshake(endpoint, {
        curveServerKey: cluster.publicKey,
        curvePublicKey: cluster.publicKey,
        curveSecretKey: cluster.secretKey,
      }),
      'handshake',
      `${name}: the cluster key is accepted`,
    );
    assert.equal(
      await handshake(endpoint, {
        curveServerKey: cluster.publicKey,
        curvePublicKey: rogue.publicKey,
        curveSecretKey: rogue.secretKey,
      }),
      'handshake:error:auth',
      `${name}: a rogue key is refused by ZAP`,
    );
    assert.match(await handshake(endpoint, {}), /^handshake:error/, `${name}: a plaintext peer fails`);
    assert.match(
      await handshake(endpoint, {
        curveServerKey: rogue.publicKey,
        curvePublicKey: cluster.publicKey,
        curveSecretKey: cluster.secretKey,
      }),
      /^handshake:error/,
      `${name}: a wrong server key fails`,
    );
  }
});

test('CURVE config needs both keys and well-formed ones', () => {
  assert.throws(() => loadConfig({ curvePublic: cluster.publicKey }, {}), /NOON_CURVE_PUBLIC: CURVE needs both/);
  assert.throws(() => loadConfig({ curvePublic: 'short', curveSecret: cluster.secretKey }, {}), /40 Z85 characters/);
});

test('a broker routes client calls to services over CURVE', async () => {
  const cfg = loadConfig(
    {
      yellow: [yellowRouter],
      heartbeatMs: 100,
      brokerPort: 0,
      brokerWsPort: 0,
      curvePublic: cluster.publicKey,
      curveSecret: cluster.secretKey,
      logLevel: 'silent',
    },
    {},
  );
  const broker = await startBrokerRole(cfg, silentLogger());
  const tcp = broker.endpoints.tcp!;
  const c = await rawClient(tcp);
  try {
    await until(
      'broker routes to Leaderboard over CURVE',
      async () =>
        c.leaderboard.top('b', 1).then(
          () => true,
          () => false,
        ),
      5000,
    );
    assert.equal((await c.leaderboard.top('b', 2))[0]?.userId, service.env.instanceId);
  } finally {
    c.close();
    await broker.stop();
  }
});
