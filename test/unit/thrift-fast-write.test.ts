import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as thrift from 'thrift';
import Int64 from 'node-int64';
import { ChatMessage, RankEntry } from '../../shared/protocol';
import { bufferTransport, FastCompactProtocol } from '../../shared/thrift/fast-write';

/** Bytes of one struct written by `P` over `trans`. */
function written(
  P: new (t: thrift.TTransport) => thrift.TProtocol,
  write: (out: thrift.TProtocol) => void,
  fast: boolean,
): Buffer {
  let bytes = Buffer.alloc(0);
  const trans = fast
    ? bufferTransport((f) => (bytes = Buffer.from(f.subarray(4))))
    : new thrift.TFramedTransport(undefined, (f?: Buffer) => (bytes = Buffer.from(f?.subarray(4) ?? Buffer.alloc(0))));
  const out = new P(trans);
  write(out);
  trans.flush();
  return bytes;
}

test('the fast compact writer produces exactly the bytes of the stock one', () => {
  const values = [
    0,
    1,
    -1,
    63,
    -64,
    64,
    127,
    128,
    300,
    -300,
    2 ** 31 - 1,
    -(2 ** 31),
    2 ** 31,
    2 ** 32 + 5,
    -(2 ** 40),
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER,
  ];
  for (const v of values) {
    for (const arg of [v, new Int64(v)]) {
      const write = (out: thrift.TProtocol): void => {
        new RankEntry({ userId: 'ü-ser', username: 'ann', score: arg, rank: arg }).write(out);
        new ChatMessage({
          roomId: 'r',
          seq: arg,
          userId: 'u',
          username: 'n',
          text: 'x'.repeat(600),
          sentAtMs: arg,
        }).write(out);
      };
      assert.deepEqual(
        written(FastCompactProtocol, write, true),
        written(thrift.TCompactProtocol, write, false),
        `value ${v} (${typeof arg})`,
      );
    }
  }
});
