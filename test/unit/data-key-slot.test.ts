import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commonSlot, crc16, keySlot, operationSlot } from '../../shared/data/key-slot';
import { checkClusterPrefix } from '../../shared/data/redis-cluster';
import { pushLogKey, sessionKey } from '../../shared/session-keys';

test('CRC-16/XMODEM check value', () => {
  assert.equal(crc16('123456789'), 0x31c3);
});

// Expected slots as `CLUSTER KEYSLOT` of redis-server 7 answers them.
const SLOTS: [string, number][] = [
  ['foo', 12182],
  ['bar', 5061],
  ['hello', 866],
  ['{user1000}.following', 3443],
  ['a{}b', 13694], // empty tag: the whole key is hashed
  ['{}', 15257],
  ['x{y}z{w}', 12222], // only the first tag counts
  ['sess:{abc123}', 4795],
  ['push:{abc123}', 4795],
  ['ключ', 10303], // UTF-8 bytes
  ['{', 4092],
  ['a}b{', 6027],
];

for (const [key, slot] of SLOTS) {
  test(`keySlot(${JSON.stringify(key)}) = ${slot}`, () => assert.equal(keySlot(key), slot));
}

test("a session's record and push window share a slot, so logAppend and logRead run in one", () => {
  for (const id of ['abc123', 's-0f3e', 'x'.repeat(64)]) {
    assert.equal(keySlot(sessionKey(id)), keySlot(pushLogKey(id)));
    assert.equal(operationSlot([`p:${sessionKey(id)}`, `p:${pushLogKey(id)}`]), keySlot(sessionKey(id)));
  }
});

test('keys of one operation in several slots are refused, naming each key and slot', () => {
  assert.equal(commonSlot(['foo', 'bar']), undefined);
  assert.throws(
    () => operationSlot(['foo', 'bar']),
    (e: Error) => /different hash slots: foo \(slot 12182\), bar \(slot 5061\); give them one \{tag\}/.test(e.message),
  );
});

test('a cluster key prefix with a brace is refused', () => {
  checkClusterPrefix('noon:');
  checkClusterPrefix('');
  assert.throws(() => checkClusterPrefix('app{1}:'), /key prefix "app\{1\}:" has a brace/);
  assert.throws(() => checkClusterPrefix('x}'), /has a brace/);
});
