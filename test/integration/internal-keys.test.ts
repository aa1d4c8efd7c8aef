/**
 * The internal plane's keys on real processes started the default way (`noon start` with only
 * NOON_* options and a shared NOON_DATA_DIR: the keys are made in <data dir>/keys on first use).
 * A player without a key, or with a key outside the keyring, never registers and never gets a
 * call, and is counted as refused; a key of another role cannot register as a player, a broker key
 * cannot register a service, nor take over another role's instance id; internal methods are
 * refused to a broker key and to keys of other roles, whatever user id the frame claims; a method
 * open to one role only (Player:escrowStakes, duel) refuses another service role's key; and the
 * player's key is rotated while calls flow, losing none.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import * as zmq from 'zeromq';
import { loadConfig } from '../../shared/config';
import { stopZap, type CurveKeys } from '../../shared/curve';
import { internalKeysFor } from '../../shared/internal-keys';
import { ensureKeys, newKeyPair, writeKeyPair, writeKeyringFile } from '../../shared/keyring';
import { silentLogger } from '../../shared/log';
import { isNoonError } from '../../shared/errors';
import Int64 from 'node-int64';
import { ServiceCaller } from '../../rpc/caller';
import { serviceClients } from '../../rpc/clients';
import { Links } from '../../rpc/links';
import { EscrowRequest, ErrorCode, GameError } from '../../shared/protocol';
import { YellowClient } from '../../yellow/client';
import type { InstanceRecord } from '../../yellow/types';
import { rawClient, type RawClient } from '../support/raw-client';
import { kill, killAll, spawnNoon, type Child } from '../support/yellow-harness';
import { runNoon, tempDir } from '../support/cli-proc';
import { TEST_PG_URL, pgUrlFor } from '../support/services';
import { until } from '../support/wait';

const dbName = `noon_keys_${randomBytes(4).toString('hex')}`;
const data = tempDir('noon-keys-');
const keyDir = join(data.dir, 'keys');
const procs: Child[] = [];
let env: Record<string, string>;
let yellow: Child;
let player: Child;
let broker: Child;
let operator: YellowClient;
let client: RawClient;

const keysOf = (role: string): CurveKeys =>
  internalKeysFor(loadConfig({ internalKeys: keyDir }, {}), role) as CurveKeys;

async function start(role: string, extra: Record<string, string> = {}): Promise<Child> {
  const child = await spawnNoon(['start', role], { ...env, ...extra }, 60_000);
  procs.push(child);
  return child;
}

async function instances(role: string): Promise<InstanceRecord[]> {
  return operator.query({ role });
}

/** A counter's value in a process's /metrics. */
async function metric(child: Child, name: string, labels: string): Promise<number> {
  const text = await (await fetch(String(child.ready.metrics))).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Connects a DEALER with these options and resolves with the first handshake outcome event. */
function handshake(endpoint: string, options: Partial<zmq.Dealer>): Promise<string> {
  const d = new zmq.Dealer({ linger: 0, ...options });
  return new Promise<string>((resolve) => {
    for (const type of [
      'handshake',
      'handshake:error:auth',
      'handshake:error:protocol',
      'handshake:error:other',
    ] as const)
      d.events.on(type, () => {
        resolve(type);
        d.close();
      });
    d.connect(endpoint);
  });
}

const asClient = (k: CurveKeys, serverKey: string): Partial<zmq.Dealer> => ({
  curveServerKey: serverKey,
  curvePublicKey: k.publicKey,
  curveSecretKey: k.secretKey,
});

before(async () => {
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  env = {};
  for (const k of Object.keys(process.env)) if (k.startsWith('NOON_')) env[k] = '';
  Object.assign(env, {
    NOON_PG_URL: pgUrlFor(dbName),
    NOON_HEARTBEAT_MS: '200',
    NOON_LOG_LEVEL: 'warn',
    NOON_YELLOW_PORT: '0',
    NOON_BROKER_PORT: '0',
    NOON_BROKER_WS_PORT: '0',
    NOON_METRICS_PORT: '0',
    NOON_CALLS_PER_SECOND: '1000000',
    NOON_MAX_IN_FLIGHT: '100000',
    // the test's client never logs in (Player:ping is public) and lives through every test
    NOON_LOGIN_TIMEOUT_MS: '600000',
    NOON_IDLE_TIMEOUT_MS: '600000',
    NOON_DATA_DIR: data.dir,
  });
  yellow = await start('yellow');
  env.NOON_YELLOW = String(yellow.ready.router);
  [player, broker] = await Promise.all([start('player'), start('broker')]);
  operator = new YellowClient({
    endpoints: [env.NOON_YELLOW],
    heartbeatMs: 200,
    logger: silentLogger(),
    curve: keysOf('operator'),
  });
  client = await rawClient(String(broker.ready.tcp));
  await until(
    'the broker routes Player:ping over CURVE',
    () =>
      client.player.ping().then(
        (p) => p.instance === player.ready.instanceId,
        () => false,
      ),
    30_000,
  );
});

after(async () => {
  client?.close();
  await operator?.stop();
  stopZap();
  await Promise.all(procs.map((p) => kill(p, 'SIGTERM')));
  killAll();
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
  data.remove();
});

test('the default start made a key per role, secrets readable by their owner only', () => {
  const ring = JSON.parse(readFileSync(join(keyDir, 'keyring.json'), 'utf8')) as { keys: { role: string }[] };
  assert.deepEqual(ring.keys.map((k) => k.role).sort(), [
    'broker',
    'brokerlist',
    'console',
    'operator',
    'player',
    'yellow',
  ]);
  assert.equal(statSync(join(keyDir, 'player.key')).mode & 0o777, 0o600);
});

test('a player without a key, or with a key outside the keyring, never registers, gets no call and is counted', async () => {
  const refusedBefore = await metric(yellow, 'noon_internal_refused_total', 'reason="handshake"');
  const unknownBefore = await metric(yellow, 'noon_internal_refused_total', 'reason="unknown_key"');
  const plain = await start('player', { NOON_INTERNAL_PLAINTEXT: '1' });
  // The rogue brings its own keyring that lists its key: the cluster's keyring does not.
  const rogueDir = join(data.dir, 'rogue');
  mkdirSync(rogueDir);
  const rogue = newKeyPair('player');
  writeKeyPair(join(rogueDir, 'player.key'), rogue);
  writeKeyringFile(join(rogueDir, 'keyring.json'), [
    { role: 'player', publicKey: rogue.publicKey },
    { role: 'yellow', publicKey: keysOf('yellow').publicKey },
  ]);
  const outsider = await start('player', { NOON_INTERNAL_KEYS: rogueDir });
  await until(
    "Yellow refused the plaintext player's and the outsider's handshakes",
    async () =>
      (await metric(yellow, 'noon_internal_refused_total', 'reason="handshake"')) > refusedBefore &&
      (await metric(yellow, 'noon_internal_refused_total', 'reason="unknown_key"')) > unknownBefore,
    20_000,
  );
  for (let i = 0; i < 50; i++) assert.equal((await client.player.ping()).instance, player.ready.instanceId);
  const ids = (await instances('player')).map((r) => r.instanceId);
  assert.deepEqual(ids, [player.ready.instanceId], 'only the keyed player is registered');
  for (const p of [plain, outsider])
    assert.equal(await metric(p, 'noon_calls_total', 'method="Player:ping"'), 0, 'the refused player served no call');
  await Promise.all([kill(plain, 'SIGTERM'), kill(outsider, 'SIGTERM')]);
});

test("Yellow refuses a key of another role, another service role's key announcing Player, a broker key registering a service, and another role taking over an instance id", async () => {
  const legit = (await instances('player'))[0] as InstanceRecord;
  const attempt = async (keys: CurveKeys, reg: Partial<InstanceRecord>): Promise<string> => {
    const y = new YellowClient({
      endpoints: [env.NOON_YELLOW as string],
      heartbeatMs: 200,
      logger: silentLogger(),
      curve: keys,
    });
    try {
      await y.register({
        role: legit.role,
        instanceId: `${String(reg.role ?? legit.role)}-1-${randomBytes(4).toString('hex')}`,
        host: '127.0.0.1',
        endpoints: legit.endpoints,
        service: legit.service,
        version: legit.version,
        pid: 1,
        startedAt: Date.now(),
        load: { inFlight: 0, elu: 0 },
        ...reg,
      } as InstanceRecord);
      return 'registered';
    } catch (err) {
      return (err as Error).message;
    } finally {
      await y.stop();
    }
  };
  const brokerKeys = keysOf('broker');
  const refusedBefore = await metric(yellow, 'noon_internal_refused_total', 'reason="registration"');
  // A chat process on the cluster's host (its own key in the keyring) announcing Player.
  ensureKeys(keyDir, ['chat']);
  assert.match(
    await attempt(keysOf('chat'), { role: 'chat' }),
    /FORBIDDEN: registration refused: a chat key cannot register service Player \(it may serve Chat;/,
  );
  assert.match(
    await attempt(brokerKeys, {}),
    /FORBIDDEN: registration refused: a broker key cannot register as role player/,
  );
  assert.match(
    await attempt(brokerKeys, { role: 'broker', instanceId: 'broker-1-aaaa' }),
    /FORBIDDEN: registration refused: a broker key cannot register a service \(Player\)/,
  );
  assert.match(
    await attempt(keysOf('brokerlist'), { role: 'brokerlist', instanceId: legit.instanceId, service: undefined }),
    /FORBIDDEN: registration refused: instance id "player-[^"]+" does not start with "brokerlist-"/,
  );
  const after = await instances('player');
  assert.deepEqual(
    after.map((r) => [r.instanceId, r.curveKey]),
    [[legit.instanceId, keysOf('player').publicKey]],
    'the player instance and its key are untouched',
  );
  assert.equal((await instances('broker')).length, 1);
  assert.deepEqual(await instances('chat'), [], 'no chat instance registered');
  assert.equal(
    await metric(yellow, 'noon_internal_refused_total', 'reason="registration"'),
    refusedBefore + 4,
    'each refused registration counted once',
  );
});

test('internal methods: refused to a broker key (whatever user id it claims) and to other roles, at the handshake for a plaintext peer', async () => {
  const rec = (await instances('player'))[0] as InstanceRecord;
  const serverKey = rec.curveKey as string;
  const { router, internal } = rec.endpoints as { router: string; internal: string };
  const brokerKeys = keysOf('broker');
  // A broker key reaches the brokers' ROUTER, where a forged Player:grant is answered FORBIDDEN.
  const links = new Links({
    identity: `broker-1-${randomBytes(4).toString('hex')}`,
    logger: silentLogger(),
    maxQueued: 10,
    maxPayload: 1 << 20,
    curve: brokerKeys,
  });
  try {
    const reply = await links.request(
      { instanceId: rec.instanceId, router, serverKey },
      {
        timeoutMs: 10_000,
        sessionId: 'forged',
        userId: 'any-user-77777',
        username: 'forged',
        method: 'Player:grant',
        via: 'forged',
        traceId: 'forged',
        payload: Buffer.from([0x82, 0x21, 0x00, 0x05]),
      },
    );
    assert.ok(reply.error && isNoonError(reply.error, 'FORBIDDEN'), `refused: ${reply.error?.message}`);
    assert.match(reply.error.message, /Player:grant is internal: only services may call it/);
  } finally {
    links.close();
  }
  const wrongBefore = await metric(player, 'noon_internal_refused_total', 'reason="wrong_role"');
  assert.equal(
    await handshake(internal, asClient(brokerKeys, serverKey)),
    'handshake:error:auth',
    'a broker key on the services ROUTER',
  );
  for (const role of ['brokerlist', 'console', 'operator', 'yellow'])
    for (const endpoint of [router, internal])
      assert.equal(await handshake(endpoint, asClient(keysOf(role), serverKey)), 'handshake:error:auth', `${role} key`);
  assert.equal(
    await handshake(router, asClient(keysOf('player'), serverKey)),
    'handshake:error:auth',
    'a service key on the brokers ROUTER',
  );
  // each refused handshake is counted (a DEALER may retry before it is closed: at least once each)
  assert.ok((await metric(player, 'noon_internal_refused_total', 'reason="wrong_role"')) >= wrongBefore + 8);
  const handshakeBefore = await metric(player, 'noon_internal_refused_total', 'reason="handshake"');
  assert.match(await handshake(internal, {}), /^handshake:error/, 'a plaintext peer');
  await until(
    'the plaintext peer counted',
    async () => (await metric(player, 'noon_internal_refused_total', 'reason="handshake"')) > handshakeBefore,
    10_000,
  );
  assert.equal(await metric(player, 'noon_calls_total', 'method="Player:grant"'), 0, 'grant never ran');
});

test('Player:escrowStakes from a chat key is FORBIDDEN and never runs; the duel key still calls it', async () => {
  ensureKeys(keyDir, ['chat', 'duel']);
  const rec = (await instances('player'))[0] as InstanceRecord;
  const escrowAs = async (role: string): Promise<unknown> => {
    const links = new Links({
      identity: `${role}-1-${randomBytes(4).toString('hex')}`,
      logger: silentLogger(),
      maxQueued: 10,
      maxPayload: 1 << 20,
      curve: keysOf(role),
    });
    const clients = serviceClients(new ServiceCaller({ instances: () => [rec] }, links), () => ({
      sessionId: '',
      userId: 'any-user',
      traceId: `escrow-as-${role}`,
      via: '',
      deadline: Date.now() + 10_000,
    }));
    try {
      return await clients.player.escrowStakes(
        new EscrowRequest({ duelId: `keys-${role}`, userIds: [], amount: new Int64(1) }),
      );
    } catch (err) {
      return err;
    } finally {
      links.close();
    }
  };
  const droppedBefore = await metric(player, 'noon_dropped_total', 'reason="caller_role"');
  const ranBefore = await metric(player, 'noon_calls_total', 'method="Player:escrowStakes"');
  const refused = await escrowAs('chat');
  assert.ok(isNoonError(refused, 'FORBIDDEN'), `refused: ${String(refused)}`);
  assert.match((refused as Error).message, /Player:escrowStakes may be called only by duel, not by chat/);
  assert.equal(await metric(player, 'noon_dropped_total', 'reason="caller_role"'), droppedBefore + 1, 'counted once');
  assert.equal(await metric(player, 'noon_calls_total', 'method="Player:escrowStakes"'), ranBefore, 'never ran');
  // The duel key's call runs the handler, which answers the empty request with its own error.
  const ran = await escrowAs('duel');
  assert.ok(ran instanceof GameError && ran.code === ErrorCode.BAD_REQUEST, `ran: ${String(ran)}`);
  assert.match(String(ran.message), /userIds must name exactly two players/);
  assert.equal(await metric(player, 'noon_calls_total', 'method="Player:escrowStakes"'), ranBefore + 1);
  assert.equal(await metric(player, 'noon_dropped_total', 'reason="caller_role"'), droppedBefore + 1);
});

test("the player's key is rotated while calls flow: none is lost", async () => {
  const oldKey = keysOf('player').publicKey;
  let ok = 0;
  let failed = 0;
  const errors: string[] = [];
  const seen = new Set<string>();
  let flowing = true;
  const flow = (async () => {
    while (flowing) {
      try {
        seen.add(String((await client.player.ping()).instance));
        ok++;
      } catch (err) {
        failed++;
        errors.push((err as Error).message);
      }
    }
  })();
  await until('calls flow', () => ok >= 20, 20_000);
  const rotated = JSON.parse((await runNoon(['keys', 'rotate', 'player', '--dir', keyDir, '--json'])).stdout) as {
    publicKey: string;
  };
  const next = await start('player');
  await until(
    'the new player serves calls',
    () => {
      if (failed > 0) throw new Error(`${failed} calls failed: ${errors.slice(0, 3).join('; ')}`);
      return seen.has(String(next.ready.instanceId));
    },
    30_000,
  );
  const records = await instances('player');
  assert.equal(records.find((r) => r.instanceId === next.ready.instanceId)?.curveKey, rotated.publicKey);
  await kill(player, 'SIGTERM');
  await until(
    'the old player is gone from Yellow',
    async () => (await instances('player')).every((r) => r.instanceId !== player.ready.instanceId),
    20_000,
  );
  const oldSecret = JSON.parse(readFileSync(join(keyDir, 'player.previous.key'), 'utf8')) as CurveKeys;
  await runNoon(['keys', 'retire', 'player', '--dir', keyDir]);
  const afterRetire = ok;
  await until(
    'calls flow after the retirement',
    () => {
      if (failed > 0) throw new Error(`${failed} calls failed: ${errors.slice(0, 3).join('; ')}`);
      return ok >= afterRetire + 50;
    },
    20_000,
  );
  flowing = false;
  await flow;
  assert.deepEqual(errors, []);
  assert.equal(failed, 0);
  assert.ok(ok > afterRetire + 50);
  // The retired key is refused from now on.
  const rec = (await instances('player'))[0] as InstanceRecord;
  assert.equal(
    await handshake(
      String(rec.endpoints.internal),
      asClient({ ...oldSecret, publicKey: oldKey } as CurveKeys, String(rec.curveKey)),
    ),
    'handshake:error:auth',
  );
  player = next;
  writeFileSync(join(data.dir, 'rotated'), rotated.publicKey);
});
