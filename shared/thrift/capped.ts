/**
 * Thrift protocols that decode under caps: string/binary size, container element count, struct
 * nesting depth, and no length larger than the bytes left. The stock decoders enforce none of
 * this (a 1 MiB list of one-byte elements becomes ~60 MiB of heap). Multiplexed names are
 * stripped on read ("Player:grant" -> "grant") and added on write for clients.
 */
import * as thrift from 'thrift';
import { NoonError } from '../errors';
import { textBytesProblem } from '../input';

export interface DecodeCaps {
  maxString: number;
  maxContainer: number;
  maxDepth: number;
  /**
   * Refuse a `string` (not `binary`) that holds a NUL or is not valid UTF-8 — text Postgres cannot
   * store — with BAD_REQUEST, before any handler runs. Services decode requests with it on.
   */
  strictText?: boolean;
}

/** What a string refused under `strictText` throws: a BAD_REQUEST the caller reads as such. */
export class BadTextError extends NoonError {
  constructor(problem: string) {
    super('BAD_REQUEST', `a string argument ${problem}`, false);
    this.name = 'BadTextError';
  }
}

export const DEFAULT_CAPS: DecodeCaps = { maxString: 8192, maxContainer: 1024, maxDepth: 16 };

// TypeScript mixins require a constructor typed `new (...args: any[])`; nothing else here is any.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ProtocolCtor = new (...args: any[]) => thrift.TProtocol;
interface Borrowable {
  borrow(): { buf: Buffer; readIndex: number; writeIndex: number };
}

function protocolError(message: string): Error {
  return new thrift.Thrift.TProtocolException(thrift.Thrift.TProtocolExceptionType.SIZE_LIMIT, message);
}

/**
 * The next string/binary length, where its bytes start and how many bytes follow the length,
 * read without consuming; undefined when too few bytes are left (the stock read then raises the
 * underrun).
 */
type LengthPeek = (buf: Buffer, from: number, to: number) => { len: number; start: number; left: number } | undefined;

/** A mixin so compact and binary get the same caps; they differ only in how a length is encoded. */
function capped<B extends ProtocolCtor>(Base: B, peekLength: LengthPeek) {
  return class Capped extends Base {
    caps: DecodeCaps = DEFAULT_CAPS;
    depth = 0;
    /** set when a string was refused under `strictText` (the caller counts it) */
    refusedText = false;
    remaining(): number {
      const b = (this as unknown as { trans: Borrowable }).trans.borrow();
      return b.writeIndex - b.readIndex;
    }
    checkCount(kind: string, size: number): void {
      if (size > this.caps.maxContainer)
        throw protocolError(`${kind} of ${size} elements exceeds the limit ${this.caps.maxContainer}`);
      if (size > this.remaining())
        throw protocolError(`${kind} of ${size} elements exceeds the ${this.remaining()} bytes left`);
    }
    override readStructBegin(): thrift.TStruct {
      if (++this.depth > this.caps.maxDepth) throw protocolError(`nesting deeper than ${this.caps.maxDepth}`);
      return super.readStructBegin();
    }
    override readStructEnd(): void {
      this.depth--;
      super.readStructEnd();
    }
    override readListBegin(): thrift.TList {
      const l = super.readListBegin();
      this.checkCount('list', l.size);
      return l;
    }
    override readSetBegin(): thrift.TSet {
      const s = super.readSetBegin();
      this.checkCount('set', s.size);
      return s;
    }
    override readMapBegin(): thrift.TMap {
      const m = super.readMapBegin();
      this.checkCount('map', m.size);
      return m;
    }
    checkNextLength(what: string): { buf: Buffer; start: number; len: number } | undefined {
      const b = (this as unknown as { trans: Borrowable }).trans.borrow();
      const next = peekLength(b.buf, b.readIndex, b.writeIndex);
      if (!next) return undefined;
      checkedLength(next.len, this.caps, next.left, what);
      return { buf: b.buf, start: next.start, len: next.len };
    }
    override readString(): string {
      const next = this.checkNextLength('string');
      if (this.caps.strictText === true && next !== undefined && next.len > 0) {
        const problem = textBytesProblem(next.buf.subarray(next.start, next.start + next.len));
        if (problem !== undefined) {
          this.refusedText = true;
          throw new BadTextError(problem);
        }
      }
      return super.readString();
    }
    override readBinary(): Buffer {
      this.checkNextLength('binary');
      return super.readBinary();
    }
    override skip(type: thrift.Thrift.Type): void {
      if (++this.depth > this.caps.maxDepth) throw protocolError(`nesting deeper than ${this.caps.maxDepth}`);
      try {
        super.skip(type);
      } finally {
        this.depth--;
      }
    }
  };
}

function checkedLength(len: number, caps: DecodeCaps, left: number, what: string): void {
  if (len > caps.maxString) throw protocolError(`${what} of ${len} bytes exceeds the limit ${caps.maxString}`);
  if (len > left) throw protocolError(`${what} of ${len} bytes exceeds the ${left} bytes left`);
}

/**
 * Peeks a compact varint length without consuming it, so we can check before the stock read
 * allocates: the length and the varint's size in bytes, or undefined when it is cut off.
 */
function peekCompactLength(buf: Buffer, pos: number, end: number): { len: number; size: number } | undefined {
  let result = 0;
  let shift = 0;
  for (let i = 0; i < 5 && pos + i < end; i++) {
    const b = buf[pos + i] as number;
    result |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return { len: result, size: i + 1 };
    shift += 7;
  }
  return undefined;
}

function compactLength(
  buf: Buffer,
  from: number,
  to: number,
): { len: number; start: number; left: number } | undefined {
  const v = peekCompactLength(buf, from, to);
  // `left` counts from the varint on, as before: a length beyond it is beyond the bytes left too.
  return v === undefined ? undefined : { len: v.len, start: from + v.size, left: to - from };
}

function binaryLength(buf: Buffer, from: number, to: number): { len: number; start: number; left: number } | undefined {
  return to - from < 4 ? undefined : { len: buf.readInt32BE(from), start: from + 4, left: to - from - 4 };
}

/** The stock compact reader's own state that readBool needs. */
interface CompactBoolState {
  boolValue_: { hasBoolValue: boolean; boolValue: boolean };
  trans: { readByte(): number };
}

export class CappedCompactProtocol extends capped(thrift.TCompactProtocol as unknown as ProtocolCtor, compactLength) {
  static withCaps(trans: thrift.TTransport, caps: DecodeCaps): CappedCompactProtocol {
    const p = new CappedCompactProtocol(trans);
    p.caps = caps;
    return p;
  }

  /**
   * A bool in a field header is read with the header; one in a list, set or map is a byte of its
   * own (1 = true). The stock reader takes that byte for an object and reads every such bool as
   * false (a duel's `drawn` map arrived all false).
   */
  override readBool(): boolean {
    const self = this as unknown as CompactBoolState;
    if (self.boolValue_.hasBoolValue) {
      self.boolValue_.hasBoolValue = false;
      return self.boolValue_.boolValue;
    }
    return self.trans.readByte() === 1;
  }
}

export class CappedBinaryProtocol extends capped(thrift.TBinaryProtocol as unknown as ProtocolCtor, binaryLength) {
  static withCaps(trans: thrift.TTransport, caps: DecodeCaps): CappedBinaryProtocol {
    const p = new CappedBinaryProtocol(trans);
    p.caps = caps;
    return p;
  }
}
