/**
 * Role keys without sockets: the key directory (generate, rotate, retire; the keyring seen
 * changing by a running reader), the audiences, and Yellow's admission of a registration by the
 * role of the key that proves it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { CallerProofs, CallerVerifier } from '../../shared/caller-proof';
import { loadConfig } from '../../shared/config';
import {
  admits,
  registrationProof,
  verifyRegistrationProof,
  z85Decode,
  z85Encode,
  type CurveKeys,
} from '../../shared/curve';
import { internalKeysFor } from '../../shared/internal-keys';
import { ensureKeys, Keyring, readKeyringFile, retireKeys, rotateKey, writeKeyringFile } from '../../shared/keyring';
import { conventionalService, mayServe } from '../../shared/service-roles';
import { admitRegistration } from '../../yellow/admission';
import type { InstanceRecord, InstanceRegistration } from '../../yellow/types';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'noon-keys-unit-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const keysIn = (dir: string, role: string): CurveKeys =>
  internalKeysFor(loadConfig({ internalKeys: dir }, {}), role) as CurveKeys;

test('Z85 encodes back to what it decodes', () => {
  const { publicKey } = zmq.curveKeyPair();
  assert.equal(z85Encode(z85Decode(publicKey)), publicKey);
});

test('generate makes one key per role (0600) and a keyring; a second run keeps them', () => {
  withDir((dir) => {
    ensureKeys(dir, ['yellow', 'player']);
    const first = readKeyringFile(join(dir, 'keyring.json'));
    assert.deepEqual(
      first.map((e) => e.role),
      ['yellow', 'player'],
    );
    assert.equal(statSync(join(dir, 'player.key')).mode & 0o777, 0o600);
    ensureKeys(dir, ['yellow', 'player', 'chat']);
    const second = readKeyringFile(join(dir, 'keyring.json'));
    assert.deepEqual(second.slice(0, 2), first);
    assert.equal(second.length, 3);
  });
});

test('rotate lists two keys for the role until retire; a running keyring reader sees each change', () => {
  withDir((dir) => {
    ensureKeys(dir, ['yellow', 'player']);
    const ring = new Keyring(join(dir, 'keyring.json'));
    const old = keysIn(dir, 'player').publicKey;
    assert.equal(ring.keysOf('player').length, 1);
    const next = rotateKey(dir, 'player');
    assert.deepEqual(ring.keysOf('player'), [old, next.publicKey]);
    assert.equal(ring.roleOf(old), 'player');
    assert.equal(keysIn(dir, 'player').publicKey, next.publicKey, 'a new process takes the new key');
    assert.throws(() => rotateKey(dir, 'player'), /a rotation of player is under way; retire it first/);
    assert.equal(retireKeys(dir, 'player'), 1);
    assert.deepEqual(ring.keysOf('player'), [next.publicKey]);
    assert.equal(ring.roleOf(old), undefined, 'the retired key is unknown');
    assert.equal(existsSync(join(dir, 'player.previous.key')), false);
  });
});

test('audiences: brokers on the brokers socket, services on the services socket, anyone keyed at Yellow', () => {
  assert.equal(admits('broker', 'broker'), true);
  assert.equal(admits('broker', 'player'), false);
  assert.equal(admits('service', 'player'), true);
  for (const infra of ['broker', 'brokerlist', 'console', 'yellow', 'operator'])
    assert.equal(admits('service', infra), false);
  assert.equal(admits('any', 'brokerlist'), true);
  assert.equal(admits('any', undefined), false);
});

test('a role serves the Thrift service named after it, and what the keyring grants it', () => {
  assert.equal(conventionalService('player'), 'Player');
  assert.equal(conventionalService('my-shop'), 'MyShop');
  assert.equal(conventionalService('daily_quest'), 'DailyQuest');
  assert.equal(mayServe('chat', 'Chat'), true);
  assert.equal(mayServe('chat', 'Sso'), false);
  assert.equal(mayServe('shop', 'Store', ['Store']), true);
  withDir((dir) => {
    ensureKeys(dir, ['yellow', 'shop']);
    const file = join(dir, 'keyring.json');
    const ring = readKeyringFile(file).map((e) => (e.role === 'shop' ? { ...e, services: ['Store'] } : e));
    writeKeyringFile(file, ring);
    const reader = new Keyring(file);
    assert.deepEqual(reader.servicesOf('shop'), ['Store']);
    rotateKey(dir, 'shop');
    assert.deepEqual(
      readKeyringFile(file)
        .filter((e) => e.role === 'shop')
        .map((e) => e.services),
      [['Store'], ['Store']],
      'a rotated key may register what the old one could',
    );
    writeKeyringFile(file, [...ring, { role: 'x', publicKey: ring[0]?.publicKey ?? '', services: ['no spaces'] }]);
    assert.throws(() => readKeyringFile(file), /keys\[2\]\.services is not a list of Thrift service names/);
  });
});

test('Yellow admits a registration only for the role of the key that proves it', () => {
  withDir((dir) => {
    ensureKeys(dir, ['yellow', 'broker', 'player', 'sso']);
    const yellow = keysIn(dir, 'yellow');
    const reg = (keys: CurveKeys, fields: Partial<InstanceRegistration>): InstanceRegistration => {
      const base: InstanceRegistration = {
        role: 'player',
        instanceId: 'player-1-aaaa',
        host: '127.0.0.1',
        endpoints: {},
        version: '1',
        pid: 1,
        startedAt: 1,
        load: { inFlight: 0, elu: 0 },
        ...fields,
      };
      return {
        ...base,
        curveKey: keys.publicKey,
        proof: registrationProof(keys, yellow.publicKey, base.instanceId, base.role),
      };
    };
    const player = keysIn(dir, 'player');
    const broker = keysIn(dir, 'broker');
    admitRegistration(yellow, reg(player, {}), undefined);
    assert.throws(
      () => admitRegistration(yellow, reg(broker, {}), undefined),
      /a broker key cannot register as role player/,
    );
    const service = {
      thriftService: 'Player',
      methods: [],
      publicMethods: [],
      idempotentMethods: [],
      internalMethods: [],
      stateful: false,
    };
    assert.throws(
      () => admitRegistration(yellow, reg(broker, { role: 'broker', instanceId: 'broker-1-a', service }), undefined),
      /a broker key cannot register a service \(Player\)/,
    );
    admitRegistration(yellow, reg(player, { service }), undefined);
    const sso = keysIn(dir, 'sso');
    assert.throws(
      () => admitRegistration(yellow, reg(sso, { role: 'sso', instanceId: 'sso-1-evil', service }), undefined),
      /a sso key cannot register service Player \(it may serve Sso; a keyring entry's "services" grants more\)/,
    );
    assert.throws(
      () => admitRegistration(yellow, reg(keysIn(dir, 'sso'), { role: 'sso', instanceId: 'player-1-aaaa' }), undefined),
      /instance id "player-1-aaaa" does not start with "sso-"/,
    );
    const forged = { ...reg(broker, {}), curveKey: player.publicKey };
    assert.throws(() => admitRegistration(yellow, forged, undefined), /the proof does not match key/);
    const rogue = zmq.curveKeyPair();
    assert.throws(
      () => admitRegistration(yellow, { ...reg(player, {}), curveKey: rogue.publicKey }, undefined),
      /is not in the keyring/,
    );
    const { proof: _proof, ...unproven } = reg(player, {});
    assert.throws(() => admitRegistration(yellow, unproven, undefined), /no curveKey and proof/);
    rotateKey(dir, 'player');
    const rotated = keysIn(dir, 'player');
    const held = { ...reg(player, {}), draining: false, lastHeartbeat: 1, epoch: 1 } as InstanceRecord;
    assert.throws(
      () => admitRegistration(yellow, reg(rotated, {}), held),
      /instance player-1-aaaa is registered with another key/,
    );
  });
});

test("yellow.md §1.1's registration-proof test vector is what the reference computes", () => {
  const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'protocol', 'yellow.md'), 'utf8');
  const row = (name: string): string => {
    const m = doc.match(new RegExp(`^\\| ${name} \\| \`([^\`]+)\` \\|$`, 'm'));
    assert.ok(m, `the vector's row "${name}"`);
    return m[1] as string;
  };
  const registrant = {
    secretKey: row('registrant secretKey'),
    publicKey: row('registrant publicKey \\(`curveKey`\\)'),
  };
  const yellowKey = row('Yellow publicKey');
  // the secrets are the bytes 1..32 and 33..64, as the document says
  assert.deepEqual(
    [...z85Decode(registrant.secretKey)],
    Array.from({ length: 32 }, (_, i) => i + 1),
  );
  assert.deepEqual(
    [...z85Decode(row('Yellow secretKey'))],
    Array.from({ length: 32 }, (_, i) => i + 33),
  );
  const proof = registrationProof(registrant as CurveKeys, yellowKey, 'echo-1', 'echo');
  assert.equal(proof, row('`proof`'));
  const yellow = { secretKey: row('Yellow secretKey'), publicKey: yellowKey } as CurveKeys;
  assert.ok(verifyRegistrationProof(yellow, registrant.publicKey, 'echo-1', 'echo', proof), 'Yellow accepts it');
  assert.ok(!verifyRegistrationProof(yellow, registrant.publicKey, 'echo-2', 'echo', proof), 'for that id only');
});

test("a caller's key proof gives its role to the instance it is made for, and to no other", () => {
  withDir((dir) => {
    ensureKeys(dir, ['yellow', 'player', 'leaderboard', 'duel', 'chat']);
    const player = keysIn(dir, 'player');
    const duel = keysIn(dir, 'duel');
    const chat = keysIn(dir, 'chat');
    const atPlayer = new CallerVerifier(player);
    const duelProof = new CallerProofs(duel).for(player.publicKey);
    assert.equal(atPlayer.roleOf(duelProof), 'duel');
    assert.equal(atPlayer.roleOf(new CallerProofs(chat).for(player.publicKey)), 'chat');
    assert.equal(atPlayer.roleOf(undefined), undefined, 'no proof');
    assert.equal(atPlayer.roleOf({ key: duel.publicKey, proof: '00'.repeat(16) }), undefined, 'a made-up proof');
    const chatsOwn = new CallerProofs(chat).for(player.publicKey);
    assert.equal(
      atPlayer.roleOf({ key: duel.publicKey, proof: chatsOwn.proof }),
      undefined,
      "chat's proof under duel's key",
    );
    const forLeaderboard = new CallerProofs(duel).for(keysIn(dir, 'leaderboard').publicKey);
    assert.equal(atPlayer.roleOf(forLeaderboard), undefined, 'a proof made for another key');
    assert.equal(atPlayer.roleOf({ key: 'not a key', proof: 'zz' }), undefined);
    // A retired key loses its role at the next keyring check (every second).
    const t0 = Date.now();
    rotateKey(dir, 'duel');
    retireKeys(dir, 'duel');
    assert.equal(atPlayer.roleOf(duelProof, t0), 'duel', 'still cached');
    assert.equal(atPlayer.roleOf(duelProof, t0 + 1500), undefined, 'retired');
  });
});
