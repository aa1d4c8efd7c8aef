/**
 * A client's request id, carried inside its Thrift CALL: one extra string field, id 32767, written
 * as the last field of the arguments struct, exactly REQUEST_ID_LENGTH ASCII bytes long. Any Thrift
 * decoder skips a field it does not know, so services, fake brokers and older peers read the call
 * as before; a stock client never writes this field, so its seqids (which restart at 0 on every
 * connection) are never mistaken for request ids. The broker reads the id from the message's
 * fixed-size tail without decoding the arguments (docs/retries.md).
 *
 * The field goes last because compact protocol encodes field ids as deltas from the previous one:
 * a field 32767 in front would shift every later field's id. Last, it uses the long (absolute) form.
 */
import type { ThriftProtocol } from './header';

/** Reserved in every IDL served through noon: a studio struct must not use this field id. */
export const REQUEST_ID_FIELD = 32767;
/** 12 hex digits of the client's random stream, then 8 of its call counter. */
export const REQUEST_ID_LENGTH = 20;
const REQUEST_ID = /^[0-9a-f]{20}$/;

// compact: field header long form (type 8 = binary, delta 0), zigzag varint of 32767, varint length
const COMPACT_PREFIX = Buffer.from([0x08, 0xfe, 0xff, 0x03, REQUEST_ID_LENGTH]);
// binary: type 11 = string, i16 field id, i32 length
const BINARY_PREFIX = Buffer.from([0x0b, 0x7f, 0xff, 0x00, 0x00, 0x00, REQUEST_ID_LENGTH]);
const STOP = 0x00;

function prefixOf(protocol: ThriftProtocol): Buffer {
  return protocol === 'compact' ? COMPACT_PREFIX : BINARY_PREFIX;
}

export function isRequestId(id: string): boolean {
  return REQUEST_ID.test(id);
}

/**
 * `framed` (4-byte length, then a CALL message) with the request id field added before the
 * arguments struct's final STOP byte. Throws on an id of the wrong shape or a message that does
 * not end in STOP.
 */
export function withRequestId(framed: Buffer, protocol: ThriftProtocol, id: string): Buffer {
  if (!isRequestId(id)) throw new Error(`request id must be ${REQUEST_ID_LENGTH} lowercase hex digits, got ${id}`);
  if (framed.length < 5 || framed[framed.length - 1] !== STOP)
    throw new Error('a Thrift call must end with the STOP of its arguments struct');
  const prefix = prefixOf(protocol);
  const out = Buffer.allocUnsafe(framed.length + prefix.length + REQUEST_ID_LENGTH);
  framed.copy(out, 0, 0, framed.length - 1);
  let pos = framed.length - 1;
  pos += prefix.copy(out, pos);
  pos += out.write(id, pos, 'latin1');
  out[pos] = STOP;
  out.writeUInt32BE(out.length - 4, 0);
  return out;
}

/** The request id at the end of a CALL message (no frame length), or '' when it carries none. */
export function readRequestId(message: Buffer, protocol: ThriftProtocol): string {
  const prefix = prefixOf(protocol);
  const start = message.length - 1 - REQUEST_ID_LENGTH - prefix.length;
  if (start < 0 || message[message.length - 1] !== STOP) return '';
  if (message.compare(prefix, 0, prefix.length, start, start + prefix.length) !== 0) return '';
  const id = message.toString('latin1', start + prefix.length, message.length - 1);
  return isRequestId(id) ? id : '';
}
