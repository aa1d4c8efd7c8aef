/**
 * The client request id (shared/thrift/request-id.ts, docs/retries.md): added to a generated
 * call it is read back from the tail by the broker, the arguments still decode to what the client
 * wrote (the field is skipped), and a stock call carries none. The request envelope carries it
 * in an optional trailing field, and a header without it is the original layout.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Chat, Player } from '../../shared/protocol';
import { DEFAULT_CAPS } from '../../shared/thrift/capped';
import { ThriftChannel, type OutgoingCall } from '../../shared/thrift/channel';
import type { ThriftProtocol } from '../../shared/thrift/header';
import { openMessage } from '../../shared/thrift/messages';
import { readRequestId, withRequestId } from '../../shared/thrift/request-id';
import { withSeqid } from '../../shared/thrift/seqid';
import { peekHeader } from '../../shared/thrift/header';
import { decodeEnvelope, encodeHeader } from '../../shared/wire/frames';
import { request } from '../support/envelopes';

function written(
  protocol: ThriftProtocol,
  call: (c: { chat: Chat.Client; player: Player.Client }) => void,
): OutgoingCall {
  const out: OutgoingCall[] = [];
  const ch = new ThriftChannel((c) => out.push(c), { protocol, caps: DEFAULT_CAPS });
  call({ chat: ch.client(Chat.Client, 'Chat'), player: ch.client(Player.Client, 'Player') });
  const [first] = out;
  assert.ok(first, 'the call was written');
  return first;
}

const ID = 'a1b2c3d4e5f600000007';

for (const protocol of ['compact', 'binary'] as const) {
  describe(`request id in a ${protocol} call`, () => {
    test('is read back from the tail, and the arguments decode unchanged (the field is skipped)', () => {
      const call = written(protocol, ({ chat }) => void chat.say('lobby', 'hello there').catch(() => {}));
      const framed = withRequestId(call.framed, protocol, ID);
      assert.equal(framed.readUInt32BE(0), framed.length - 4, 'the frame length follows');
      const message = framed.subarray(4);
      assert.equal(readRequestId(message, protocol), ID);
      const { input, remaining } = openMessage(message, DEFAULT_CAPS);
      const m = input.readMessageBegin();
      assert.equal(m.fname, 'Chat:say');
      assert.equal(m.rseqid, call.header.seqid);
      const args = Chat.SayArgs.read(input);
      input.readMessageEnd();
      assert.equal(args.roomId, 'lobby');
      assert.equal(args.text, 'hello there');
      assert.equal(remaining(), 0);
    });

    test('a call without arguments takes one too', () => {
      const call = written(protocol, ({ player }) => void player.getWallet().catch(() => {}));
      const message = withRequestId(call.framed, protocol, ID).subarray(4);
      assert.equal(readRequestId(message, protocol), ID);
      const { input } = openMessage(message, DEFAULT_CAPS);
      input.readMessageBegin();
      Player.GetWalletArgs.read(input);
    });

    test('a remembered reply given again takes the seqid of the attempt it answers', () => {
      const call = written(protocol, ({ chat }) => void chat.say('lobby', 'hi').catch(() => {}));
      const message = call.framed.subarray(4);
      for (const seqid of [call.header.seqid, 300, 0x7fffffff, 0]) {
        const out = withSeqid(message, seqid);
        assert.equal(peekHeader(out, 64).seqid, seqid);
        const { input, remaining } = openMessage(out, DEFAULT_CAPS);
        const m = input.readMessageBegin();
        assert.equal(m.rseqid, seqid);
        assert.equal(Chat.SayArgs.read(input).text, 'hi', 'the rest unchanged');
        assert.equal(remaining(), 0);
      }
      assert.equal(withSeqid(message, call.header.seqid), message, 'the same seqid: the same buffer');
    });

    test('a stock call carries none', () => {
      const call = written(protocol, ({ chat }) => void chat.say('lobby', 'x'.repeat(40)).catch(() => {}));
      assert.equal(readRequestId(call.framed.subarray(4), protocol), '');
      assert.equal(readRequestId(Buffer.from([0x00]), protocol), '');
    });
  });
}

test('an id of the wrong shape is refused by the writer', () => {
  const call = written('compact', ({ player }) => void player.getWallet().catch(() => {}));
  assert.throws(() => withRequestId(call.framed, 'compact', 'short'), /20 lowercase hex digits/);
});

describe('the request envelope', () => {
  test('carries a clientRequestId in an optional trailing field', () => {
    const withId = request({ clientRequestId: ID });
    const header = encodeHeader(withId);
    assert.deepEqual(decodeEnvelope(header, withId.payload), withId);
    const without = request();
    const plain = encodeHeader(without);
    assert.equal(header.length, plain.length + 2 + ID.length);
    assert.deepEqual(header.subarray(0, plain.length), plain, 'the original layout, then the field');
    assert.deepEqual(decodeEnvelope(plain, without.payload), without, 'a header without it is the original layout');
  });
});
