/**
 * Spec of the broker <-> service frame codec (shared/wire/frames.ts): every envelope and
 * directive survives a round trip, a batch has the documented layout, and every malformed
 * message is refused with a FrameError that says what was wrong.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NoonError } from '../../shared/errors';
import {
  decodeBatch,
  decodeEnvelope,
  encodeBatch,
  encodeHeader,
  FRAME_TAG,
  FrameError,
  MAX_BATCH,
  type Directive,
  type Envelope,
  type PushEnvelope,
  type ReplyEnvelope,
  type RequestEnvelope,
  type RoomEnvelope,
} from '../../shared/wire/frames';

const MAX_PAYLOAD = 1 << 20;
const EMPTY = Buffer.alloc(0);

const request = (fields: Partial<RequestEnvelope> = {}): RequestEnvelope => ({
  kind: 'request',
  requestId: 7,
  timeoutMs: 5000,
  sessionId: 's-1',
  userId: 'u-1',
  username: 'ann',
  method: 'Player:getWallet',
  via: 'broker-1',
  traceId: 't-1',
  payload: Buffer.from([0x82, 0x21, 0x00, 0x09]),
  ...fields,
});
const reply = (fields: Partial<ReplyEnvelope> = {}): ReplyEnvelope => ({
  kind: 'reply',
  requestId: 7,
  directives: [],
  payload: Buffer.from('ok'),
  ...fields,
});
const push = (fields: Partial<PushEnvelope> = {}): PushEnvelope => ({
  kind: 'push',
  sessionId: 's-1',
  directives: [],
  payload: Buffer.from([0x82, 0x81]),
  ...fields,
});
const room = (seq: number, topic = 'chat/lobby', payload = Buffer.from('m')): RoomEnvelope => ({
  kind: 'room',
  topic,
  seq,
  payload,
});

const everyDirective: Array<{ name: string; directive: Directive }> = [
  { name: 'auth', directive: { type: 'auth', sessionId: 's-1', userId: 'u-1', username: 'ann' } },
  { name: 'logout', directive: { type: 'logout' } },
  { name: 'bind', directive: { type: 'bind', service: 'duel', instanceId: 'duel-2', sessionId: 's-1' } },
  { name: 'unbind', directive: { type: 'unbind', service: 'duel', sessionId: 's-1' } },
  { name: 'subscribe', directive: { type: 'subscribe', topic: 'chat/lobby', instanceId: 'chat-1' } },
  { name: 'unsubscribe', directive: { type: 'unsubscribe', topic: 'chat/lobby' } },
  { name: 'close', directive: { type: 'close', reason: 'resumed elsewhere' } },
];
const unsubscribes = (n: number): Directive[] =>
  Array.from({ length: n }, (_, i): Directive => ({ type: 'unsubscribe', topic: `t${i}` }));

const roundTrips: Array<{ name: string; envelope: Envelope }> = [
  { name: 'a request', envelope: request() },
  {
    name: 'a request before login (empty session, user and name)',
    envelope: request({ sessionId: '', userId: '', username: '', method: 'Sso:login' }),
  },
  {
    name: 'a request with the largest u32 id and timeout',
    envelope: request({ requestId: 0xffffffff, timeoutMs: 0xffffffff }),
  },
  { name: 'a request with id and timeout 0', envelope: request({ requestId: 0, timeoutMs: 0 }) },
  {
    name: 'a request with multi-byte UTF-8 strings',
    envelope: request({ username: 'Zoë 🎲', sessionId: '東京-1', traceId: '\u0000nul' }),
  },
  { name: 'a request with a 60,000-byte string', envelope: request({ traceId: 't'.repeat(60_000) }) },
  { name: 'a request with an empty payload', envelope: request({ payload: EMPTY }) },
  { name: 'a request with a 1 MiB payload', envelope: request({ payload: Buffer.alloc(MAX_PAYLOAD, 0xab) }) },
  { name: 'a reply', envelope: reply() },
  {
    name: 'a reply with an error (retryable by its code)',
    envelope: reply({ error: new NoonError('BUSY', 'full'), payload: EMPTY }),
  },
  {
    name: "a reply with an error whose retryable flag differs from its code's",
    envelope: reply({ error: new NoonError('INTERNAL', 'try elsewhere', true), payload: EMPTY }),
  },
  {
    name: 'a reply with an error and directives',
    envelope: reply({
      requestId: 9,
      error: new NoonError('PROTOCOL', 'bad Duel:move message', false),
      directives: [{ type: 'logout' }],
      payload: EMPTY,
    }),
  },
  {
    name: 'a reply with every directive kind',
    envelope: reply({ directives: everyDirective.map((d) => d.directive) }),
  },
  {
    name: 'a reply with 16 directives (the most a header may carry)',
    envelope: reply({ directives: unsubscribes(16) }),
  },
  { name: 'a push', envelope: push() },
  {
    name: 'a directives-only push (no session, no payload)',
    envelope: push({ sessionId: '', directives: [{ type: 'close', reason: 'kicked' }], payload: EMPTY }),
  },
  { name: 'a room message with seq 0', envelope: room(0) },
  { name: 'a room message with seq 2^32 - 1', envelope: room(0xffffffff) },
  { name: 'a room message with seq 2^32', envelope: room(2 ** 32) },
  { name: 'a room message with the largest safe integer seq', envelope: room(Number.MAX_SAFE_INTEGER) },
  { name: 'a room message on an empty topic, without payload', envelope: room(1, '', EMPTY) },
];

describe('frames round trip', () => {
  for (const { name, envelope } of roundTrips) {
    test(`${name} decodes to what was encoded, alone and in a batch`, () => {
      assert.deepEqual(decodeEnvelope(encodeHeader(envelope), envelope.payload), envelope);
      assert.deepEqual(decodeBatch(encodeBatch([envelope]), MAX_PAYLOAD), [envelope]);
    });
  }

  for (const { name, directive } of everyDirective) {
    test(`the ${name} directive decodes to what was encoded, in a reply and in a push`, () => {
      const envelopes: Envelope[] = [reply({ directives: [directive] }), push({ directives: [directive] })];
      assert.deepEqual(decodeBatch(encodeBatch(envelopes), MAX_PAYLOAD), envelopes);
    });
  }

  test('a decoded reply error is a NoonError with code, retryable flag and message', () => {
    const sent = reply({ error: new NoonError('UNAVAILABLE', 'no Duel'), payload: EMPTY });
    const [decoded] = decodeBatch(encodeBatch([sent]), MAX_PAYLOAD);
    assert.ok(decoded?.kind === 'reply' && decoded.error instanceof NoonError);
    assert.deepEqual(
      { code: decoded.error.code, retryable: decoded.error.retryable, message: decoded.error.message },
      { code: 'UNAVAILABLE', retryable: true, message: 'UNAVAILABLE: no Duel' },
    );
  });

  test('a reply without an error decodes without an error property at all', () => {
    const [decoded] = decodeBatch(encodeBatch([reply()]), MAX_PAYLOAD);
    assert.ok(decoded);
    assert.equal('error' in decoded, false);
  });
});

describe('frames batches', () => {
  test('a batch is [FRAME_TAG, one frame of u16 header length, header, u32 payload length, payload]', () => {
    const envelope = request();
    const header = encodeHeader(envelope);
    const frames = encodeBatch([envelope]);
    assert.equal(frames.length, 2);
    assert.deepEqual(frames[0], Buffer.from('noon/2'));
    assert.deepEqual(frames[0], FRAME_TAG);
    const lengths = Buffer.alloc(6);
    lengths.writeUInt16BE(header.length, 0);
    lengths.writeUInt32BE(envelope.payload.length, 2);
    const expected = Buffer.concat([lengths.subarray(0, 2), header, lengths.subarray(2), envelope.payload]);
    assert.deepEqual(frames[1], expected);
  });

  test('a batch of every kind decodes to the same envelopes in the same order', () => {
    const envelopes = roundTrips.map((r) => r.envelope);
    assert.deepEqual(decodeBatch(encodeBatch(envelopes), MAX_PAYLOAD), envelopes);
  });

  test('decoded payloads are views into the received frame, not copies', () => {
    const frames = encodeBatch([request(), request({ requestId: 8 })]);
    const body = frames[1] as Buffer;
    for (const e of decodeBatch(frames, MAX_PAYLOAD)) assert.equal(e.payload.buffer, body.buffer);
  });

  test(`exactly MAX_BATCH (${MAX_BATCH}) envelopes decode`, () => {
    const envelopes = Array.from({ length: MAX_BATCH }, (_, i) => room(i, 't', EMPTY));
    assert.equal(decodeBatch(encodeBatch(envelopes), MAX_PAYLOAD).length, MAX_BATCH);
  });

  test('a payload of exactly maxPayload bytes decodes', () => {
    assert.equal(decodeBatch(encodeBatch([request({ payload: Buffer.alloc(64) })]), 64).length, 1);
  });

  test('an empty envelope list encodes, but the decoder refuses the empty batch', () => {
    const frames = encodeBatch([]);
    assert.deepEqual(frames, [FRAME_TAG, EMPTY]);
    assert.throws(() => decodeBatch(frames, MAX_PAYLOAD), { name: 'FrameError', message: 'empty batch' });
  });
});

/** One batch entry with a raw header; `declared` overrides the payload length written. */
function entry(header: Buffer | number[], payload: Buffer = EMPTY, declared = payload.length): Buffer {
  const h = Buffer.isBuffer(header) ? header : Buffer.from(header);
  const lengths = Buffer.alloc(6);
  lengths.writeUInt16BE(h.length, 0);
  lengths.writeUInt32BE(declared, 2);
  return Buffer.concat([lengths.subarray(0, 2), h, lengths.subarray(2), payload]);
}
const message = (...entries: Buffer[]): Buffer[] => [FRAME_TAG, Buffer.concat(entries)];

const goodHeader = encodeHeader(request());
const goodEntry = entry(goodHeader, Buffer.from('p'));
/** A reply header up to its directive count: kind 2, request id 1, no error. */
const replyHead = [2, 0, 0, 0, 1, 0, 0];

interface MalformedCase {
  name: string;
  frames: Buffer[];
  maxPayload?: number;
  /** the FrameError's whole message */
  error: string;
}

const malformed: MalformedCase[] = [
  // The message's frames.
  { name: 'no frames at all', frames: [], error: 'bad protocol tag (none), expected noon/2' },
  {
    name: 'the tag of another layout version',
    frames: [Buffer.from('noon/1'), goodEntry],
    error: 'bad protocol tag "noon/1", expected noon/2',
  },
  {
    name: 'an empty tag',
    frames: [EMPTY, goodEntry],
    error: 'bad protocol tag "", expected noon/2',
  },
  {
    name: 'a long wrong tag (quoted up to 16 bytes)',
    frames: [Buffer.alloc(100, 'a'), goodEntry],
    error: `bad protocol tag "${'a'.repeat(16)}", expected noon/2`,
  },
  {
    name: 'a routing identity left in front of the tag',
    frames: [Buffer.from('broker-1'), FRAME_TAG, goodEntry],
    error: 'bad protocol tag "broker-1", expected noon/2',
  },
  { name: 'the tag alone', frames: [FRAME_TAG], error: '1 frames: expected the tag and one batch frame' },
  {
    name: 'a frame after the batch frame',
    frames: [FRAME_TAG, goodEntry, Buffer.from('x')],
    error: '3 frames: expected the tag and one batch frame',
  },
  { name: 'an empty batch frame', frames: message(), error: 'empty batch' },

  // The batch frame's lengths.
  {
    name: 'a batch cut inside a header length',
    frames: message(Buffer.from([0])),
    error: 'batch truncated in a header length',
  },
  {
    name: 'a batch cut inside the header length after a good entry',
    frames: message(goodEntry, Buffer.from([0])),
    error: 'batch truncated in a header length',
  },
  {
    name: 'a header length beyond the batch',
    frames: message(Buffer.from([0xff, 0xff, 1, 2, 3])),
    error: 'header of 65535 bytes runs past the batch',
  },
  {
    name: 'a header with no payload length after it',
    frames: message(entry(goodHeader).subarray(0, 2 + goodHeader.length + 3)),
    error: `header of ${goodHeader.length} bytes runs past the batch`,
  },
  {
    name: 'a payload length beyond the batch',
    frames: message(entry(goodHeader, Buffer.alloc(3), 1000)),
    error: 'payload of 1000 bytes runs past the batch',
  },
  {
    name: 'a payload over maxPayload',
    frames: message(entry(goodHeader, Buffer.alloc(17))),
    maxPayload: 16,
    error: 'payload of 17 bytes exceeds the limit 16',
  },
  {
    name: 'a payload length of 2^32 - 1 (checked before the bytes are looked for)',
    frames: message(entry(goodHeader, EMPTY, 0xffffffff)),
    error: `payload of ${0xffffffff} bytes exceeds the limit ${MAX_PAYLOAD}`,
  },
  {
    name: `more than MAX_BATCH (${MAX_BATCH}) envelopes`,
    frames: message(...Array.from({ length: MAX_BATCH + 1 }, () => entry(encodeHeader(room(1, 't', EMPTY))))),
    error: `more than ${MAX_BATCH} envelopes in one message`,
  },

  // A header's contents.
  {
    name: 'an empty header',
    frames: message(entry([])),
    error: 'frame header: truncated at byte 0 (needs 1 more)',
  },
  { name: 'an unknown envelope kind', frames: message(entry([9])), error: 'unknown envelope kind 9' },
  { name: 'envelope kind 0', frames: message(entry([0])), error: 'unknown envelope kind 0' },
  {
    name: 'a request header cut after its numbers',
    frames: message(entry(goodHeader.subarray(0, 10))),
    error: 'frame header: truncated at byte 9 (needs 2 more)',
  },
  {
    name: 'a string length beyond the header',
    frames: message(entry([1, 0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff])),
    error: 'frame header: truncated at byte 11 (needs 65535 more)',
  },
  {
    name: 'bytes after a complete header',
    frames: message(entry(Buffer.concat([goodHeader, Buffer.from([0])]))),
    error: 'frame header: 1 trailing bytes',
  },
  {
    name: 'a room header without its seq',
    frames: message(entry([4, 0, 1, 0x74, 0, 0, 0, 0])),
    error: 'frame header: truncated at byte 8 (needs 4 more)',
  },
  {
    name: 'a reply error that is not JSON',
    frames: message(entry([2, 0, 0, 0, 1, 0, 1, 0x7b, 0])),
    error: 'reply error is not JSON',
  },
  {
    name: 'a reply claiming 17 directives',
    frames: message(entry([...replyHead, 17, ...Array<number>(17).fill(2)])),
    error: '17 directives exceed the limit 16',
  },
  {
    name: 'a push claiming 200 directives',
    frames: message(entry([3, 0, 0, 200])),
    error: '200 directives exceed the limit 16',
  },
  {
    name: 'an unknown directive code',
    frames: message(entry([...replyHead, 1, 8])),
    error: 'unknown directive 8',
  },
  { name: 'directive code 0', frames: message(entry([...replyHead, 1, 0])), error: 'unknown directive 0' },
  {
    name: 'fewer directives than the count says',
    frames: message(entry([...replyHead, 2, 2])),
    error: 'frame header: truncated at byte 9 (needs 1 more)',
  },
  {
    name: 'a directive cut inside its strings',
    frames: message(entry([...replyHead, 1, 1, 0, 1, 0x73])),
    error: 'frame header: truncated at byte 12 (needs 2 more)',
  },
  {
    name: 'a good envelope followed by a bad one (the whole message is refused)',
    frames: message(goodEntry, entry([9])),
    error: 'unknown envelope kind 9',
  },
];

describe('frames refuse malformed messages with a FrameError saying what is wrong', () => {
  for (const c of malformed) {
    test(c.name, () => {
      assert.throws(
        () => decodeBatch(c.frames, c.maxPayload ?? MAX_PAYLOAD),
        (e: unknown) => {
          assert.ok(e instanceof FrameError, `a FrameError, not ${String(e)}`);
          assert.equal(e.message, c.error);
          return true;
        },
      );
    });
  }

  test('corrupted and truncated batches throw nothing but FrameError (5,000 seeded mutations)', () => {
    // A fixed-seed LCG: the same 5,000 mutations on every run.
    let seed = 42;
    const randomByte = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) & 0xff;
    // Small envelopes only, so the mutations land on lengths and codes, not inside big strings.
    const batchSize = (e: Envelope): number => (encodeBatch([e])[1] as Buffer).length;
    const small = roundTrips.map((r) => r.envelope).filter((e) => batchSize(e) < 1024);
    const body = encodeBatch(small)[1] as Buffer;
    for (let i = 0; i < 5000; i++) {
      let mutated = Buffer.from(body);
      for (let flips = 1 + (randomByte() % 3); flips > 0; flips--) {
        mutated[(randomByte() * 256 + randomByte()) % mutated.length] = randomByte();
      }
      const cut = (randomByte() * 256 + randomByte()) % mutated.length;
      if (randomByte() % 4 === 0) mutated = mutated.subarray(0, cut);
      try {
        decodeBatch([FRAME_TAG, mutated], MAX_PAYLOAD);
      } catch (err) {
        assert.ok(err instanceof FrameError, `mutation ${i}: ${String(err)}`);
      }
    }
  });
});

describe('frames accept, leniently', () => {
  /** Decodes a reply header whose error string is `json`. */
  const replyError = (json: string): NoonError | undefined => {
    const errorBytes = Buffer.from(json);
    const errorLength = Buffer.alloc(2);
    errorLength.writeUInt16BE(errorBytes.length, 0);
    const header = Buffer.concat([Buffer.from([2, 0, 0, 0, 1]), errorLength, errorBytes, Buffer.from([0])]);
    const e = decodeEnvelope(header, EMPTY);
    assert.equal(e.kind, 'reply');
    return e.kind === 'reply' ? e.error : undefined;
  };

  interface LenientErrorCase {
    name: string;
    json: string;
    code: string;
    message: string;
    retryable: boolean;
  }

  const lenientErrors: LenientErrorCase[] = [
    {
      name: 'an error code this side does not know becomes INTERNAL',
      json: JSON.stringify({ code: 'WAT', message: 'WAT: boom', retryable: true }),
      code: 'INTERNAL',
      message: 'INTERNAL: WAT: boom',
      retryable: true,
    },
    {
      name: 'a JSON null error is an INTERNAL "remote error"',
      json: 'null',
      code: 'INTERNAL',
      message: 'INTERNAL: remote error',
      retryable: false,
    },
    {
      name: 'an error without a retryable flag is not retryable, whatever its code',
      json: JSON.stringify({ code: 'BUSY', message: 'BUSY: full' }),
      code: 'BUSY',
      message: 'BUSY: full',
      retryable: false,
    },
  ];
  for (const c of lenientErrors) {
    test(`reply errors: ${c.name}`, () => {
      const error = replyError(c.json);
      assert.ok(error instanceof NoonError);
      assert.deepEqual(
        { code: error.code, message: error.message, retryable: error.retryable },
        { code: c.code, message: c.message, retryable: c.retryable },
      );
    });
  }

  test('strings are not validated as UTF-8: bad bytes decode to U+FFFD', () => {
    const e = decodeEnvelope(Buffer.from([4, 0, 1, 0xff, 0, 0, 0, 0, 0, 0, 0, 1]), EMPTY);
    assert.deepEqual(e, room(1, '\ufffd', EMPTY));
  });
});

describe('frames encoding limits', () => {
  test('a string over 65535 UTF-8 bytes is refused with a FrameError', () => {
    assert.throws(() => encodeHeader(request({ username: 'é'.repeat(32_768) })), {
      name: 'FrameError',
      message: 'string of 65536 bytes does not fit a frame header',
    });
  });

  test('numbers outside u32 are written modulo 2^32 (callers keep ids and timeouts in range)', () => {
    const sent = request({ requestId: 2 ** 32 + 5, timeoutMs: -1 });
    const [decoded] = decodeBatch(encodeBatch([sent]), MAX_PAYLOAD);
    assert.ok(decoded?.kind === 'request');
    assert.deepEqual([decoded.requestId, decoded.timeoutMs], [5, 0xffffffff]);
  });

  test('a header over 65535 bytes (its u16 length) is refused with a FrameError', () => {
    const big = 'x'.repeat(40_000);
    assert.throws(() => encodeBatch([request({ sessionId: big, traceId: big })]), FrameError);
  });

  test('the encoder refuses what the decoder would refuse: more than 16 directives', () => {
    assert.throws(() => encodeHeader(push({ directives: unsubscribes(17) })), FrameError);
  });
});
