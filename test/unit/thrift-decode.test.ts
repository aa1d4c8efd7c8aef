import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as thrift from 'thrift';
import { DuelState, Player, SpendRequest, Currency } from '../../shared/protocol';
import { peekHeader, ProtocolError, splitMultiplexed } from '../../shared/thrift/header';
import { buildMessage, openMessage } from '../../shared/thrift/messages';
import { DEFAULT_CAPS } from '../../shared/thrift/capped';

const compactCall = buildMessage('compact', (out) => {
  out.writeMessageBegin('Player:spendCurrency', thrift.Thrift.MessageType.CALL, 42);
  new Player.SpendCurrencyArgs({
    req: new SpendRequest({ idempotencyKey: 'k', currency: Currency.SOFT, amount: 5, reason: 'r' }),
  }).write(out);
  out.writeMessageEnd();
});
const binaryCall = buildMessage('binary', (out) => {
  out.writeMessageBegin('Player:getWallet', thrift.Thrift.MessageType.CALL, 7);
  new Player.GetWalletArgs().write(out);
  out.writeMessageEnd();
});

test('peekHeader reads compact and binary headers', () => {
  assert.deepEqual(peekHeader(compactCall, 64), {
    protocol: 'compact',
    name: 'Player:spendCurrency',
    type: 1,
    seqid: 42,
  });
  assert.deepEqual(peekHeader(binaryCall, 64), { protocol: 'binary', name: 'Player:getWallet', type: 1, seqid: 7 });
  assert.deepEqual(splitMultiplexed('Player:getWallet'), { service: 'Player', method: 'getWallet' });
});

test('peekHeader rejects hostile headers with ProtocolError', () => {
  const hostile: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['unknown first byte', Buffer.from('GET / HTTP/1.1')],
    ['compact name length 100 MB', Buffer.from([0x82, 0x21, 0x01, 0x80, 0xc2, 0xd7, 0x2f])],
    ['compact overlong varint', Buffer.from([0x82, 0x21, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])],
    ['compact bad version', Buffer.from([0x82, 0x22, 0x01, 0x01, 0x61])],
    ['compact type 0', Buffer.from([0x82, 0x01, 0x01, 0x01, 0x61])],
    ['binary negative name length', Buffer.from([0x80, 0x01, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff])],
    ['binary bad version', Buffer.from([0x80, 0x02, 0x00, 0x01, 0, 0, 0, 1, 0x61, 0, 0, 0, 1])],
    ['binary truncated seqid', Buffer.from([0x80, 0x01, 0x00, 0x01, 0, 0, 0, 1, 0x61, 0])],
    ['name over limit', compactCall],
    ['empty name', Buffer.from([0x82, 0x21, 0x01, 0x00])],
  ];
  for (const [name, buf] of hostile) {
    assert.throws(() => peekHeader(buf, name === 'name over limit' ? 8 : 64), ProtocolError, name);
  }
  assert.throws(() => splitMultiplexed('getWallet'), ProtocolError);
  assert.throws(() => splitMultiplexed('A:b:c'), ProtocolError);
});

/** A DuelState whose `players` list header claims `count` elements, followed by `body`. */
function duelStateWithList(count: number, body: Buffer): Buffer {
  return buildMessage('compact', (out) => {
    out.writeStructBegin('DuelState');
    out.writeFieldBegin('players', thrift.Thrift.Type.LIST, 3);
    out.writeListBegin(thrift.Thrift.Type.STRING, 0);
    out.writeListEnd();
    out.writeFieldEnd();
    out.writeFieldStop();
    out.writeStructEnd();
  }).length > 0
    ? Buffer.concat([Buffer.from([0x39, 0xf8]), varint(count), body, Buffer.from([0])])
    : Buffer.alloc(0);
}
function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

test('capped decode rejects a list header claiming 2^31 elements before allocating', () => {
  const { input } = openMessage(duelStateWithList(2 ** 31 - 1, Buffer.alloc(0)), DEFAULT_CAPS, 'compact');
  assert.throws(() => DuelState.read(input), /exceeds/);
});

test('a full frame of one-byte list elements is refused by the container cap', () => {
  const n = 16_000;
  const body = Buffer.alloc(n, 0); // n empty strings
  const before = process.memoryUsage().heapUsed;
  const { input } = openMessage(duelStateWithList(n, body), DEFAULT_CAPS, 'compact');
  assert.throws(() => DuelState.read(input), /list of 16000 elements exceeds the limit 1024/);
  assert.ok(process.memoryUsage().heapUsed - before < 8 * 1024 * 1024);
  const ok = openMessage(duelStateWithList(1000, Buffer.alloc(1000, 0)), DEFAULT_CAPS, 'compact');
  assert.equal(DuelState.read(ok.input).players?.length, 1000);
});

test('strings over the cap or beyond the bytes left are refused', () => {
  const claim = Buffer.concat([Buffer.from([0x18]), varint(100_000_000), Buffer.from('abc'), Buffer.from([0])]);
  assert.throws(() => DuelState.read(openMessage(claim, DEFAULT_CAPS, 'compact').input), /exceeds/);
  const big = Buffer.concat([Buffer.from([0x18]), varint(9000), Buffer.alloc(9000, 0x61), Buffer.from([0])]);
  assert.throws(
    () => DuelState.read(openMessage(big, DEFAULT_CAPS, 'compact').input),
    /string of 9000 bytes exceeds the limit 8192/,
  );
});

test('deep nesting of unknown fields stops at the depth cap without RangeError', () => {
  const depth = 100_000;
  const buf = Buffer.concat([Buffer.alloc(depth, 0x9c), Buffer.alloc(depth + 1, 0)]); // field 9, type struct, nested
  assert.throws(() => DuelState.read(openMessage(buf, DEFAULT_CAPS, 'compact').input), /nesting deeper than 16/);
});

test('a map with a __proto__ key decodes into a Map and pollutes nothing', () => {
  const msg = buildMessage('compact', (out) => {
    new DuelState({
      drawn: new Map([
        ['__proto__', true],
        ['constructor', true],
      ]),
    }).write(out);
  });
  const s = DuelState.read(openMessage(msg, DEFAULT_CAPS, 'compact').input);
  assert.ok(s.drawn instanceof Map);
  assert.ok(s.drawn.has('__proto__') && s.drawn.has('constructor'));
  assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
  assert.equal(Object.getPrototypeOf({}), Object.prototype);
});
