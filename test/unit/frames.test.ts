/**
 * Spec of the broker <-> service frame codec (shared/wire/frames.ts): every envelope and
 * directive survives a round trip, a batch has the documented layout, lenient decoding, and the
 * encoder refuses what a decoder would (frames-malformed.test.ts has the refusals).
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
  type Envelope,
} from '../../shared/wire/frames';
import {
  MAX_PAYLOAD,
  EMPTY,
  request,
  reply,
  push,
  room,
  everyDirective,
  unsubscribes,
  roundTrips,
} from '../support/envelopes';

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
