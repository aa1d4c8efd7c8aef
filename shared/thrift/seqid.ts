/**
 * Rewrites the seqid of a Thrift message (compact or strict binary) without decoding its body:
 * a push's seqid carries its place in the session's stream.
 */
import { ProtocolError } from './header';

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n >>> 0;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}

function varintEnd(buf: Buffer, pos: number): number {
  for (let i = pos; i < Math.min(buf.length, pos + 5); i++) if (((buf[i] as number) & 0x80) === 0) return i + 1;
  throw new ProtocolError('truncated varint in message header');
}

function readVarint(buf: Buffer, from: number, end: number): number {
  let v = 0;
  for (let i = end - 1; i >= from; i--) v = v * 128 + ((buf[i] as number) & 0x7f);
  return v;
}

/**
 * `message` with seqid `seq` (0 ≤ seq ≤ 2^31 − 1); the same buffer when it already carries it, so
 * a remembered reply given again to the attempt it first answered costs no copy.
 */
export function withSeqid(message: Buffer, seq: number): Buffer {
  if (!Number.isInteger(seq) || seq < 0 || seq > 0x7fffffff) throw new ProtocolError(`seqid ${seq} out of range`);
  if (message[0] === 0x82) {
    const end = varintEnd(message, 2);
    if (readVarint(message, 2, end) === seq) return message;
    return Buffer.concat([message.subarray(0, 2), varint(seq), message.subarray(end)]);
  }
  if (message[0] === 0x80 && message.length >= 8) {
    const at = 8 + message.readInt32BE(4);
    if (at < 8 || at + 4 > message.length) throw new ProtocolError('truncated binary header (seqid)');
    if (message.readInt32BE(at) === seq) return message;
    const out = Buffer.from(message);
    out.writeInt32BE(seq, at);
    return out;
  }
  throw new ProtocolError('not a compact or binary Thrift message');
}
