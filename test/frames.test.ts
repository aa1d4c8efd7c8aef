import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NoonError } from '../shared/errors';
import { decodeBatch, encodeBatch, encodeHeader, FRAME_TAG, FrameError, type Envelope } from '../shared/wire/frames';

const samples: Envelope[] = [
  {
    kind: 'request',
    requestId: 7,
    timeoutMs: 5000,
    sessionId: 's1',
    userId: 'u1',
    username: 'ann',
    method: 'Player:getWallet',
    via: 'broker-1',
    traceId: 't-1',
    payload: Buffer.from([1, 2, 3]),
  },
  {
    kind: 'reply',
    requestId: 7,
    directives: [
      { type: 'auth', sessionId: 's', userId: 'u', username: 'ann' },
      { type: 'bind', service: 'duel', instanceId: 'd1', sessionId: 's' },
    ],
    payload: Buffer.from('x'),
  },
  {
    kind: 'reply',
    requestId: 0xffffffff,
    error: new NoonError('BUSY', 'full'),
    directives: [],
    payload: Buffer.alloc(0),
  },
  {
    kind: 'push',
    sessionId: 's2',
    directives: [
      { type: 'subscribe', topic: 'chat/r1', instanceId: 'c1' },
      { type: 'unsubscribe', topic: 'x' },
      { type: 'logout' },
      { type: 'unbind', service: 'duel', sessionId: 's2' },
      { type: 'close', reason: 'resumed elsewhere' },
    ],
    payload: Buffer.from('p'),
  },
  { kind: 'room', topic: 'chat/lobby', seq: 2 ** 40 + 5, payload: Buffer.from('m') },
];

test('every envelope kind round-trips through one batch', () => {
  const decoded = decodeBatch(encodeBatch(samples), 1 << 20);
  assert.equal(decoded.length, samples.length);
  for (let i = 0; i < samples.length; i++) {
    const a = decoded[i] as Envelope;
    const b = samples[i] as Envelope;
    if (a.kind === 'reply' && b.kind === 'reply' && b.error) {
      assert.equal(a.error?.code, 'BUSY');
      assert.equal(a.error?.retryable, true);
      assert.equal(a.error?.message, 'BUSY: full');
    } else {
      assert.deepEqual(a, b);
    }
  }
});

/** One batch frame holding one raw header and payload. */
function pack(header: Buffer, payload: Buffer, plen = payload.length): Buffer {
  const out = Buffer.alloc(6 + header.length + payload.length);
  out.writeUInt16BE(header.length, 0);
  header.copy(out, 2);
  out.writeUInt32BE(plen, 2 + header.length);
  payload.copy(out, 6 + header.length);
  return out;
}

test('hostile frames are clear FrameErrors, never other exceptions', () => {
  const good = encodeBatch([samples[0] as Envelope]);
  const goodHeader = encodeHeader(samples[0] as Envelope);
  const cases: [string, Buffer[]][] = [
    ['no frames', []],
    ['wrong tag', [Buffer.from('noon/1'), good[1] as Buffer]],
    ['tag only', [FRAME_TAG]],
    ['extra frame', [...good, Buffer.from('x')]],
    ['empty batch', [FRAME_TAG, Buffer.alloc(0)]],
    ['truncated header length', [FRAME_TAG, Buffer.from([0])]],
    ['header length past the end', [FRAME_TAG, Buffer.from([0xff, 0xff, 1, 2, 3])]],
    ['payload length past the end', [FRAME_TAG, pack(goodHeader, Buffer.alloc(3), 1000)]],
    ['payload length 2^32-1', [FRAME_TAG, pack(goodHeader, Buffer.alloc(0), 0xffffffff)]],
    ['unknown kind', [FRAME_TAG, pack(Buffer.from([9]), Buffer.alloc(0))]],
    ['truncated header', [FRAME_TAG, pack(goodHeader.subarray(0, 10), Buffer.alloc(0))]],
    ['trailing header bytes', [FRAME_TAG, pack(Buffer.concat([goodHeader, Buffer.from([0])]), Buffer.alloc(0))]],
    [
      'string length beyond header',
      [FRAME_TAG, pack(Buffer.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff]), Buffer.alloc(0))],
    ],
    ['oversized payload', [FRAME_TAG, pack(goodHeader, Buffer.alloc(2 << 20))]],
    ['bad error json', [FRAME_TAG, pack(Buffer.from([2, 0, 0, 0, 1, 0, 1, 0x7b, 0]), Buffer.alloc(0))]],
    ['too many directives', [FRAME_TAG, pack(Buffer.from([3, 0, 0, 200]), Buffer.alloc(0))]],
  ];
  for (const [name, frames] of cases) {
    assert.throws(() => decodeBatch(frames, 1 << 20), FrameError, name);
  }
});

test('random garbage never throws anything but FrameError', () => {
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const good = encodeBatch(samples);
  for (let i = 0; i < 5000; i++) {
    const frames = good.map((f) => Buffer.from(f));
    const which = 1 + (rand() % (frames.length - 1));
    const f = frames[which] as Buffer;
    if (f.length > 0) f[rand() % f.length] = rand();
    if (rand() % 4 === 0) frames[which] = Buffer.from(f.subarray(0, rand() % (f.length + 1)));
    try {
      decodeBatch(frames, 1 << 20);
    } catch (err) {
      assert.ok(err instanceof FrameError, `iteration ${i}: ${String(err)}`);
    }
  }
});
