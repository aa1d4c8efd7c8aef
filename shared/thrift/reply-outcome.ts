/**
 * What a service's reply says happened, for the broker's call counts: `ok`, the code of a
 * declared GameError (`INSUFFICIENT_FUNDS`), or the code of a TApplicationException the
 * framework wrote for an undeclared failure (`UNAVAILABLE: …` → `UNAVAILABLE`). Both kinds of
 * error travel inside an ordinary reply envelope, so without this they were counted `ok`.
 *
 * The success path reads two bytes past the header: the result struct's first field id (0 is
 * the success value, absent for a void method; 1 and up are the declared exceptions). Only an
 * error is decoded further.
 */
import * as thrift from 'thrift';
import { ErrorCode } from '../protocol';
import { bodyOffset } from './header';
import { openMessage } from './messages';

const CAPS = { maxString: 64 * 1024, maxContainer: 1000, maxDepth: 8 };
const CODE_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(ErrorCode)
    .filter((e): e is [string, number] => typeof e[1] === 'number')
    .map(([name, n]) => [n, name]),
);
const KNOWN_CODES: ReadonlySet<string> = new Set(CODE_NAMES.values());

/** Field id of the first field of the result struct; -1 for an empty struct (a void success). */
function firstFieldId(buf: Buffer, compact: boolean): number {
  const at = bodyOffset(buf);
  const b = buf[at];
  if (b === undefined || b === 0) return -1;
  if (!compact) return buf.readInt16BE(at + 1);
  const delta = b >> 4;
  if (delta !== 0) return delta;
  // long form: the type byte, then the id as a zigzag varint (field 0: one zero byte)
  const id = buf[at + 1] ?? 0;
  return id & 0x80 ? Number.MAX_SAFE_INTEGER : (id >>> 1) ^ -(id & 1);
}

/**
 * The code at the start of a TApplicationException's message. Its fields are read here rather
 * than by thrift's TApplicationException: that is an Error, and capturing its stack trace cost the
 * broker more than the rest of a refused call (a flood of garbage is mostly such replies).
 */
function exceptionCode(payload: Buffer): string {
  const { input } = openMessage(payload, CAPS);
  input.readMessageBegin();
  input.readStructBegin();
  for (;;) {
    const f = input.readFieldBegin();
    if (f.ftype === thrift.Thrift.Type.STOP) return 'EXCEPTION';
    if (f.fid === 1 && f.ftype === thrift.Thrift.Type.STRING) {
      const code = /^([A-Z][A-Z_]*):/.exec(input.readString())?.[1];
      return code !== undefined && KNOWN_CODES.has(code) ? code : 'EXCEPTION';
    }
    input.skip(f.ftype);
    input.readFieldEnd();
  }
}

function declaredCode(payload: Buffer): string {
  const { input } = openMessage(payload, CAPS);
  input.readMessageBegin();
  input.readStructBegin();
  input.readFieldBegin(); // the declared exception
  input.readStructBegin();
  for (;;) {
    const f = input.readFieldBegin();
    if (f.ftype === thrift.Thrift.Type.STOP) return 'GAME_ERROR';
    if (f.fid === 1 && f.ftype === thrift.Thrift.Type.I32) return CODE_NAMES.get(input.readI32()) ?? 'GAME_ERROR';
    input.skip(f.ftype);
    input.readFieldEnd();
  }
}

/** `ok`, or the error code the reply carries; a reply that does not parse is `PROTOCOL`. */
export function replyOutcome(payload: Buffer): string {
  try {
    // the message type without decoding the name: compact keeps it in byte 1, binary in byte 3
    const compact = payload[0] === 0x82;
    if (!compact && payload[0] !== 0x80) return 'PROTOCOL';
    const type = compact ? ((payload[1] ?? 0) >> 5) & 0x07 : (payload[3] ?? 0);
    if (type === thrift.Thrift.MessageType.EXCEPTION) return exceptionCode(payload);
    if (type !== thrift.Thrift.MessageType.REPLY) return 'PROTOCOL';
    return firstFieldId(payload, compact) > 0 ? declaredCode(payload) : 'ok';
  } catch {
    return 'PROTOCOL';
  }
}
