/**
 * Internal-plane intrusion with CURVE on (a key per role, in-process): the cluster works end to
 * end over CURVE, and a rogue key, a plaintext client and a client pinning the wrong server key
 * are refused at the handshake (ZAP keyring, fail-closed), on a service's ROUTER and on Yellow's.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as zmq from 'zeromq';
import { loadConfig } from '../../shared/config';
import { stopZap, yellowKeyOf } from '../../shared/curve';
import { internalKeysFor } from '../../shared/internal-keys';
import { ensureKeys } from '../../shared/keyring';
import { tempDir } from '../support/cli-proc';
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

const rogue = zmq.curveKeyPair();
const dir = tempDir('noon-curve-');
ensureKeys(dir.dir, ['yellow', 'broker', 'leaderboard', 'player']);
const keyCfg = loadConfig({ internalKeys: dir.dir }, {});
const keysOf = (role: string): NonNullable<ReturnType<typeof internalKeysFor>> =>
  internalKeysFor(keyCfg, role) as NonNullable<ReturnType<typeof internalKeysFor>>;
const yellowKeys = keysOf('yellow');
/** a service's key: it may call other services */
const keys = keysOf('player');
let yellow: YellowServer;
let yellowRouter: string;
let service: RunningService;
let client: YellowClient;
let links: Links;

before(async () => {
  yellow = new YellowServer({
    host: '127.0.0.1',
    port: 0,
    heartbeatMs: 100,
    logger: silentLogger(),
    curve: yellowKeys,
  });
  yellowRouter = (await yellow.start()).router;
  const cfg = loadConfig(
    {
      yellow: [yellowRouter],
      heartbeatMs: 100,
      internalKeys: dir.dir,
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
  dir.remove();
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
  const broker = keysOf('broker');
  const targets = {
    service: { endpoint: service.endpoints.router, serverKey: keysOf('leaderboard').publicKey },
    yellow: { endpoint: yellowRouter, serverKey: yellowKeyOf(yellowKeys) },
  };
  for (const [name, { endpoint, serverKey }] of Object.entries(targets)) {
    assert.equal(
      await handshake(endpoint, {
        curveServerKey: serverKey,
        curvePublicKey: broker.publicKey,
        curveSecretKey: broker.secretKey,
      }),
      'handshake',
      `${name}: a broker key is accepted`,
    );
    assert.equal(
      await handshake(endpoint, {
        curveServerKey: serverKey,
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
        curvePublicKey: broker.publicKey,
        curveSecretKey: broker.secretKey,
      }),
      /^handshake:error/,
      `${name}: a wrong server key fails`,
    );
  }
});

test('key options: a key file of another role, a missing file and plaintext with keys fail naming the option', () => {
  const cfg = loadConfig({ internalKeys: dir.dir, internalKey: `${dir.dir}/broker.key` }, {});
  assert.throws(
    () => internalKeysFor(cfg, 'player'),
    /NOON_INTERNAL_KEY: .*broker\.key is a key of role broker, not of player/,
  );
  assert.throws(() => internalKeysFor(keyCfg, 'chat'), /NOON_INTERNAL_KEYS: .*chat\.key does not exist/);
  assert.throws(
    () => loadConfig({ internalKeys: dir.dir, internalPlaintext: true }, {}),
    /NOON_INTERNAL_PLAINTEXT: plaintext contradicts the key options/,
  );
});

test('a broker routes client calls to services over CURVE', async () => {
  const cfg = loadConfig(
    {
      yellow: [yellowRouter],
      heartbeatMs: 100,
      brokerPort: 0,
      brokerWsPort: 0,
      internalKeys: dir.dir,
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
