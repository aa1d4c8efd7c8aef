/**
 * Spec of the frame codec (shared/wire/frames.ts), its refusals: every malformed message is
 * refused with a FrameError that says what was wrong, and nothing else is thrown.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeBatch,
  encodeBatch,
  encodeHeader,
  FRAME_TAG,
  FrameError,
  MAX_BATCH,
  type Envelope,
} from '../../shared/wire/frames';
import { MAX_PAYLOAD, EMPTY, request, room, roundTrips } from '../support/envelopes';

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
    frames: message(
      entry(
        Buffer.concat([
          encodeHeader(request({ clientRequestId: 'r', caller: { key: 'k', proof: 'p' } })),
          Buffer.from([0]),
        ]),
      ),
    ),
    error: 'frame header: 1 trailing bytes',
  },
  {
    name: "a request's caller key without its proof",
    frames: message(entry(Buffer.concat([encodeHeader(request({ clientRequestId: 'r' })), Buffer.from([0, 1, 0x6b])]))),
    error: `frame header: truncated at byte ${encodeHeader(request({ clientRequestId: 'r' })).length + 3} (needs 2 more)`,
  },
  {
    name: "a request's optional clientRequestId cut short",
    frames: message(entry(Buffer.concat([goodHeader, Buffer.from([0])]))),
    error: `frame header: truncated at byte ${goodHeader.length} (needs 2 more)`,
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
    frames: message(entry([...replyHead, 1, 99])),
    error: 'unknown directive 99',
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
