/**
 * One message from a service or the broker (compact or binary) written in Thrift's JSON protocol,
 * as the npm `thrift` package's TJSONProtocol reads it: `[1,"name",type,seqid,{"1":{"i32":5}}]`,
 * i64 as exact decimal numbers, bools as 1/0, binary as base64, map keys as JSON strings, and a
 * non-finite double as "NaN", "Infinity" or "-Infinity". The walk follows the wire types; the
 * IDL (a Shape) tells binary from text. Input is decoded under caps like any other.
 */
import * as thrift from 'thrift';
import type Int64 from 'node-int64';
import type { DecodeCaps } from './capped';
import type { ThriftProtocol } from './header';
import { openMessage } from './messages';
import { PLAIN, type Shape } from './idl-shapes';
import { TAGS } from './json-in';

const T = thrift.Thrift.Type;
const TAG_OF = new Map<thrift.Thrift.Type, string>([...TAGS].map(([name, type]) => [type, `"${name}"`]));

function tagOf(type: thrift.Thrift.Type): string {
  const tag = TAG_OF.get(type);
  if (tag === undefined) throw new Error(`Thrift type ${type} has no JSON form`);
  return tag;
}

function i64Text(v: Int64 | number): string {
  return typeof v === 'number' ? String(v) : v.buffer.readBigInt64BE(v.offset).toString();
}

function doubleText(v: number): string {
  return Number.isFinite(v) ? String(v) : `"${String(v)}"`;
}

class JsonWriter {
  constructor(private readonly i: thrift.TProtocol) {}

  struct(shape: Shape): string {
    const i = this.i;
    const fields = shape.kind === 'struct' ? shape.fields : undefined;
    i.readStructBegin();
    const parts: string[] = [];
    for (;;) {
      const f = i.readFieldBegin();
      if (f.ftype === T.STOP) break;
      parts.push(`"${f.fid}":{${tagOf(f.ftype)}:${this.value(f.ftype, fields?.get(f.fid) ?? PLAIN)}}`);
      i.readFieldEnd();
    }
    i.readStructEnd();
    return `{${parts.join(',')}}`;
  }

  private value(type: thrift.Thrift.Type, shape: Shape): string {
    const i = this.i;
    switch (type) {
      case T.BOOL:
        return i.readBool() ? '1' : '0';
      case T.BYTE:
        return String(i.readByte());
      case T.I16:
        return String(i.readI16());
      case T.I32:
        return String(i.readI32());
      case T.I64:
        return i64Text(i.readI64() as Int64 | number);
      case T.DOUBLE:
        return doubleText(i.readDouble());
      case T.STRING: {
        const bytes = i.readBinary();
        return shape.kind === 'binary' ? `"${bytes.toString('base64')}"` : JSON.stringify(bytes.toString('utf8'));
      }
      case T.STRUCT:
        return this.struct(shape);
      case T.LIST:
      case T.SET:
        return this.list(type, shape);
      case T.MAP:
        return this.map(shape);
      default:
        throw new Error(`Thrift type ${type} has no JSON form`);
    }
  }

  private list(type: thrift.Thrift.Type, shape: Shape): string {
    const i = this.i;
    const l = type === T.SET ? i.readSetBegin() : i.readListBegin();
    const elem = shape.kind === 'list' ? shape.elem : PLAIN;
    const parts = [tagOf(l.etype), String(l.size)];
    for (let n = 0; n < l.size; n++) parts.push(this.value(l.etype, elem));
    if (type === T.SET) i.readSetEnd();
    else i.readListEnd();
    return `[${parts.join(',')}]`;
  }

  private map(shape: Shape): string {
    const i = this.i;
    const m = i.readMapBegin();
    if (m.ktype === T.STRUCT || m.ktype === T.MAP || m.ktype === T.SET || m.ktype === T.LIST)
      throw new Error('map keys of a container or struct type have no JSON form');
    const key = shape.kind === 'map' ? shape.key : PLAIN;
    const val = shape.kind === 'map' ? shape.value : PLAIN;
    const entries: string[] = [];
    for (let n = 0; n < m.size; n++) {
      const k = this.value(m.ktype, key);
      // JSON object keys are strings: a number or a bool key is written as its text
      entries.push(`${k.startsWith('"') ? k : `"${k}"`}:${this.value(m.vtype, val)}`);
    }
    i.readMapEnd();
    return `[${tagOf(m.ktype)},${tagOf(m.vtype)},${m.size},{${entries.join(',')}}]`;
  }
}

/**
 * The JSON text of a compact or binary message. `shapeOf` gives its struct's shape from the
 * header. Throws (a TProtocolException or an Error) when the message does not decode.
 */
export function thriftToJson(
  bytes: Buffer,
  caps: DecodeCaps,
  shapeOf: (name: string, type: thrift.Thrift.MessageType, seqid: number) => Shape,
): string {
  const from: ThriftProtocol = bytes[0] === 0x82 ? 'compact' : 'binary';
  const { input, remaining } = openMessage(bytes, caps, from);
  const m = input.readMessageBegin();
  const body = new JsonWriter(input).struct(shapeOf(m.fname, m.mtype, m.rseqid));
  input.readMessageEnd();
  if (remaining() !== 0) throw new Error(`${remaining()} bytes after the end of the message`);
  return `[1,${JSON.stringify(m.fname)},${m.mtype},${m.rseqid},${body}]`;
}
