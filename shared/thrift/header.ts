/**
 * Reads only the header of a Thrift message (name, type, seqid) in compact or binary protocol,
 * told apart by the first byte. The broker forwards the rest untouched, so this is the only
 * parsing of client bytes on the hot path: it never allocates more than the name and never
 * trusts a length it has not checked against the bytes it has.
 */
export const ThriftProtocol = { COMPACT: 'compact', BINARY: 'binary' } as const;
export type ThriftProtocol = (typeof ThriftProtocol)[keyof typeof ThriftProtocol];

export const MessageType = { CALL: 1, REPLY: 2, EXCEPTION: 3, ONEWAY: 4 } as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export interface MessageHeader {
  protocol: ThriftProtocol;
  name: string;
  type: MessageType;
  seqid: number;
}

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

const COMPACT_ID = 0x82;
const COMPACT_VERSION = 1;
const BINARY_VERSION_1 = 0x80010000;

function readVarint32(buf: Buffer, pos: number): { value: number; next: number } {
  let result = 0;
  let shift = 0;
  for (let i = 0; i < 5; i++) {
    if (pos + i >= buf.length) throw new ProtocolError('truncated varint in message header');
    const b = buf[pos + i] as number;
    result |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) {
      if (i === 4 && b > 0x0f) throw new ProtocolError('varint in message header exceeds 32 bits');
      return { value: result >>> 0, next: pos + i + 1 };
    }
    shift += 7;
  }
  throw new ProtocolError('overlong varint in message header');
}

function checkType(type: number): MessageType {
  if (type < 1 || type > 4) throw new ProtocolError(`invalid message type ${type}`);
  return type as MessageType;
}

function readName(buf: Buffer, start: number, len: number, maxName: number): string {
  if (len === 0) throw new ProtocolError('empty method name');
  if (len > maxName) throw new ProtocolError(`method name length ${len} exceeds the limit ${maxName}`);
  if (start + len > buf.length)
    throw new ProtocolError(`method name length ${len} exceeds the ${buf.length - start} bytes left`);
  return buf.toString('latin1', start, start + len);
}

function peekCompact(buf: Buffer, maxName: number): MessageHeader {
  if (buf.length < 2) throw new ProtocolError('truncated compact header');
  const versionAndType = buf[1] as number;
  if ((versionAndType & 0x1f) !== COMPACT_VERSION)
    throw new ProtocolError(`bad compact protocol version ${versionAndType & 0x1f}`);
  const type = checkType((versionAndType >> 5) & 0x07);
  const seq = readVarint32(buf, 2);
  if (seq.value > 0x7fffffff) throw new ProtocolError(`seqid ${seq.value} out of range`);
  const len = readVarint32(buf, seq.next);
  const name = readName(buf, len.next, len.value, maxName);
  return { protocol: 'compact', name, type, seqid: seq.value };
}

function peekBinary(buf: Buffer, maxName: number): MessageHeader {
  if (buf.length < 8) throw new ProtocolError('truncated binary header');
  const word = buf.readUInt32BE(0);
  if ((word & 0xffff0000) >>> 0 !== BINARY_VERSION_1)
    throw new ProtocolError(`bad binary protocol version 0x${word.toString(16)}`);
  const type = checkType(word & 0xff);
  const len = buf.readInt32BE(4);
  if (len < 0) throw new ProtocolError(`negative method name length ${len}`);
  const name = readName(buf, 8, len, maxName);
  if (8 + len + 4 > buf.length) throw new ProtocolError('truncated binary header (seqid)');
  const seqid = buf.readInt32BE(8 + len);
  if (seqid < 0) throw new ProtocolError(`negative seqid ${seqid}`);
  return { protocol: 'binary', name, type, seqid };
}

/** Throws ProtocolError on anything that is not a well-formed strict message header. */
export function peekHeader(buf: Buffer, maxName: number): MessageHeader {
  if (buf.length === 0) throw new ProtocolError('empty message');
  const first = buf[0] as number;
  if (first === COMPACT_ID) return peekCompact(buf, maxName);
  if (first === 0x80) return peekBinary(buf, maxName);
  throw new ProtocolError(`unknown protocol (first byte 0x${first.toString(16).padStart(2, '0')})`);
}

/** Where the message's body (its struct) starts, for a buffer peekHeader accepted. */
export function bodyOffset(buf: Buffer): number {
  if (buf[0] === COMPACT_ID) {
    const seq = readVarint32(buf, 2);
    const len = readVarint32(buf, seq.next);
    return len.next + len.value;
  }
  return 8 + buf.readInt32BE(4) + 4;
}

/** Splits "Service:method"; a name without exactly one colon is an error. */
export function splitMultiplexed(name: string): { service: string; method: string } {
  const i = name.indexOf(':');
  if (i <= 0 || i === name.length - 1 || name.indexOf(':', i + 1) !== -1) {
    throw new ProtocolError(`method name ${JSON.stringify(name)} is not "Service:method"`);
  }
  return { service: name.slice(0, i), method: name.slice(i + 1) };
}
