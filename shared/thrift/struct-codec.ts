/**
 * One IDL struct as bytes and back, in compact protocol: how a job's or an event's value is
 * stored in the outbox and carried to its handler. Decoding runs under caps and refuses trailing
 * bytes, like every other message noon reads.
 */
import type * as thrift from 'thrift';
import { NoonError } from '../errors';
import type { DecodeCaps } from './capped';
import { buildMessage, openMessage } from './messages';

/** A generated struct class: `new X({...})` values with `write`, and the static `read`. */
export interface StructClass<T> {
  read(input: thrift.TProtocol): T;
  readonly name: string;
}

export interface Writable {
  write(out: thrift.TProtocol): void;
}

/** Caps for outbox values: what a job or event may carry. */
export const OUTBOX_CAPS: DecodeCaps = {
  maxString: 1024 * 1024,
  maxContainer: 100_000,
  maxDepth: 32,
  strictText: true,
};

export function encodeStruct(value: Writable): Buffer {
  return buildMessage('compact', (out) => value.write(out));
}

/** Decodes `bytes` as one `struct`; throws a BAD_REQUEST NoonError naming the struct when they are not one. */
export function decodeStruct<T>(struct: StructClass<T>, bytes: Buffer, caps: DecodeCaps = OUTBOX_CAPS): T {
  try {
    const opened = openMessage(bytes, caps, 'compact');
    const value = struct.read(opened.input);
    if (opened.remaining() !== 0) throw new Error(`${opened.remaining()} bytes left after the struct`);
    return value;
  } catch (err) {
    throw new NoonError('BAD_REQUEST', `payload is not a ${struct.name}: ${(err as Error).message}`, false);
  }
}
