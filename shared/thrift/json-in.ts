/**
 * One client message in Thrift's JSON protocol (TJSONProtocol: `[1,"Player:getProfile",1,7,{…}]`)
 * rewritten into compact protocol, the services' protocol, value by value from its own type
 * tags, under the services' decode caps. The IDL (a Shape) is asked only whether a string is
 * `binary` (base64 in JSON).
 *
 * What goes wrong is told apart by how far the reading got: a message whose header (version,
 * name, type, seqid) does not read is a JsonHeaderError (the broker closes the connection, as
 * for a compact or binary header it cannot peek); past the header it is a JsonBodyError that
 * the broker answers to that seqid. A body over a cap is refused in the words a service uses
 * for its compact twin ("nesting deeper than 16"); a body that has no compact twin (a number
 * out of range, a wrong JSON type, cut-off text) is BAD_REQUEST.
 */
import * as thrift from 'thrift';
import Int64 from 'node-int64';
import type { DecodeCaps } from './capped';
import { type MessageHeader, type MessageType } from './header';
import { buildMessage } from './messages';
import { PLAIN, type Shape } from './idl-shapes';
import { JsonReader, JsonSyntaxError, JsonTooDeep, type JsonNode } from './json-text';

const T = thrift.Thrift.Type;

/** The JSON protocol's type tags, both ways (a Map: a client's tag is never a property name). */
export const TAGS: ReadonlyMap<string, thrift.Thrift.Type> = new Map([
  ['tf', T.BOOL],
  ['i8', T.BYTE],
  ['i16', T.I16],
  ['i32', T.I32],
  ['i64', T.I64],
  ['dbl', T.DOUBLE],
  ['str', T.STRING],
  ['rec', T.STRUCT],
  ['map', T.MAP],
  ['set', T.SET],
  ['lst', T.LIST],
]);

export class JsonHeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonHeaderError';
  }
}

export class JsonBodyError extends Error {
  constructor(
    message: string,
    /** true: a cap, in a service's own words; false: BAD_REQUEST */
    readonly cap: boolean,
  ) {
    super(message);
    this.name = 'JsonBodyError';
  }
}

export type JsonCall =
  { ok: true; header: MessageHeader; bytes: Buffer } | { ok: false; header: MessageHeader; error: JsonBodyError };

const bad = (message: string): JsonBodyError => new JsonBodyError(message, false);

const INT_RANGE: ReadonlyMap<thrift.Thrift.Type, readonly [number, number, string]> = new Map([
  [T.BYTE, [-128, 127, 'i8']],
  [T.I16, [-32768, 32767, 'i16']],
  [T.I32, [-2147483648, 2147483647, 'i32']],
]);
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** UTF-8 bytes; a lone surrogate becomes its 3-byte (invalid UTF-8) form, so a service refuses it as it would in compact. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function textBytes(s: string): Buffer {
  if (!LONE_SURROGATE.test(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (c >= 0xd800 && c <= 0xdfff)
      parts.push(Buffer.from([0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]));
    else parts.push(Buffer.from(ch, 'utf8'));
  }
  return Buffer.concat(parts);
}

function describe(n: JsonNode): string {
  switch (n.t) {
    case 'num':
      return `the number ${n.text.length > 40 ? `${n.text.slice(0, 40)}…` : n.text}`;
    case 'str':
      return 'a string';
    case 'bool':
      return 'a boolean';
    case 'null':
      return 'null';
    case 'arr':
      return 'an array';
    default:
      return 'an object';
  }
}

class BodyWriter {
  private depth = 0;

  constructor(
    private readonly out: thrift.TProtocol,
    private readonly caps: DecodeCaps,
  ) {}

  struct(n: JsonNode, shape: Shape, where: string): void {
    if (n.t !== 'obj') throw bad(`${where}: expected a struct (a JSON object), got ${describe(n)}`);
    if (++this.depth > this.caps.maxDepth) throw new JsonBodyError(`nesting deeper than ${this.caps.maxDepth}`, true);
    const fields = shape.kind === 'struct' ? shape.fields : undefined;
    this.out.writeStructBegin('');
    for (const [key, field] of n.entries) {
      const id = Number(key);
      if (!INTEGER.test(key) || id < -32768 || id > 32767)
        throw bad(`${where}: field id ${JSON.stringify(key.slice(0, 40))} is not an i16 number`);
      const at = `${where}.${id}`;
      const [tag, value] = this.tagged(field, at);
      this.out.writeFieldBegin('', tag, id);
      this.value(tag, value, fields?.get(id) ?? PLAIN, at);
      this.out.writeFieldEnd();
    }
    this.out.writeFieldStop();
    this.out.writeStructEnd();
    this.depth--;
  }

  /** A field's value is an object of one member: its type tag and the value, `{"i32":5}`. */
  private tagged(n: JsonNode, at: string): [thrift.Thrift.Type, JsonNode] {
    if (n.t !== 'obj' || n.entries.length !== 1)
      throw bad(`${at}: expected {"<type>": value} (an object of one member), got ${describe(n)}`);
    const [name, value] = n.entries[0] as readonly [string, JsonNode];
    return [this.tag(name, at), value];
  }

  private tag(name: string | JsonNode, at: string): thrift.Thrift.Type {
    const text = typeof name === 'string' ? name : name.t === 'str' ? name.value : undefined;
    const tag = text === undefined ? undefined : TAGS.get(text);
    if (tag === undefined)
      throw bad(
        `${at}: ${text === undefined ? describe(name as JsonNode) : JSON.stringify(text.slice(0, 40))} is not a Thrift JSON type tag`,
      );
    return tag;
  }

  private count(n: JsonNode | undefined, kind: string, at: string): number {
    if (n?.t !== 'num' || !INTEGER.test(n.text)) throw bad(`${at}: the ${kind}'s size must be a whole number`);
    const size = Number(n.text);
    if (size < 0) throw bad(`${at}: the ${kind}'s size ${n.text} is negative`);
    if (size > this.caps.maxContainer)
      throw new JsonBodyError(`${kind} of ${n.text} elements exceeds the limit ${this.caps.maxContainer}`, true);
    return size;
  }

  value(tag: thrift.Thrift.Type, n: JsonNode, shape: Shape, at: string): void {
    const o = this.out;
    switch (tag) {
      case T.BOOL:
        if (n.t === 'bool') return o.writeBool(n.value);
        if (n.t === 'num' && (n.text === '0' || n.text === '1')) return o.writeBool(n.text === '1');
        throw bad(`${at}: expected 1, 0, true or false for a tf, got ${describe(n)}`);
      case T.BYTE:
      case T.I16:
      case T.I32: {
        const [min, max, name] = INT_RANGE.get(tag) as readonly [number, number, string];
        const v = n.t === 'num' && INTEGER.test(n.text) ? Number(n.text) : undefined;
        if (v === undefined) throw bad(`${at}: expected a whole number for an ${name}, got ${describe(n)}`);
        if (v < min || v > max) throw bad(`${at}: ${describe(n)} is out of range for an ${name} (${min}..${max})`);
        if (tag === T.BYTE) return o.writeByte(v);
        return tag === T.I16 ? o.writeI16(v) : o.writeI32(v);
      }
      case T.I64:
        return o.writeI64(this.i64(n, at));
      case T.DOUBLE:
        return o.writeDouble(this.double(n, at));
      case T.STRING:
        return this.string(n, shape, at);
      case T.STRUCT:
        return this.struct(n, shape, at);
      case T.LIST:
      case T.SET:
        return this.list(tag, n, shape, at);
      case T.MAP:
        return this.map(n, shape, at);
      default:
        throw bad(`${at}: type ${tag} cannot be translated`);
    }
  }

  private i64(n: JsonNode, at: string): Int64 {
    if (n.t !== 'num' || !INTEGER.test(n.text))
      throw bad(`${at}: expected a whole number for an i64, got ${describe(n)}`);
    const v = BigInt(n.text);
    if (v < I64_MIN || v > I64_MAX) throw bad(`${at}: ${describe(n)} is out of range for an i64 (-2^63..2^63-1)`);
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(v);
    return new Int64(b);
  }

  private double(n: JsonNode, at: string): number {
    if (n.t === 'str' && (n.value === 'NaN' || n.value === 'Infinity' || n.value === '-Infinity'))
      return Number(n.value);
    if (n.t !== 'num') throw bad(`${at}: expected a number for a dbl, got ${describe(n)}`);
    const v = Number(n.text);
    if (!Number.isFinite(v)) throw bad(`${at}: ${describe(n)} is out of range for a dbl`);
    return v;
  }

  private string(n: JsonNode, shape: Shape, at: string): void {
    if (n.t !== 'str') throw bad(`${at}: expected a string for a str, got ${describe(n)}`);
    const binary = shape.kind === 'binary';
    if (binary && !BASE64.test(n.value)) throw bad(`${at}: a binary value must be base64`);
    const bytes = binary ? Buffer.from(n.value, 'base64') : textBytes(n.value);
    if (bytes.length > this.caps.maxString)
      throw new JsonBodyError(
        `${binary ? 'binary' : 'string'} of ${bytes.length} bytes exceeds the limit ${this.caps.maxString}`,
        true,
      );
    this.out.writeBinary(bytes);
  }

  /** `["i32",3,1,2,3]`: the element tag, the count, the elements. */
  private list(tag: thrift.Thrift.Type, n: JsonNode, shape: Shape, at: string): void {
    const kind = tag === T.SET ? 'set' : 'list';
    if (n.t !== 'arr' || n.items.length < 2)
      throw bad(`${at}: expected a ${kind} ["<type>", size, …], got ${describe(n)}`);
    const etype = this.tag(n.items[0] as JsonNode, at);
    const size = this.count(n.items[1], kind, at);
    if (n.items.length - 2 !== size)
      throw bad(`${at}: the ${kind} says ${size} elements and has ${n.items.length - 2}`);
    const elem = shape.kind === 'list' ? shape.elem : PLAIN;
    if (tag === T.SET) this.out.writeSetBegin(etype, size);
    else this.out.writeListBegin(etype, size);
    for (let i = 0; i < size; i++) this.value(etype, n.items[i + 2] as JsonNode, elem, `${at}[${i}]`);
    if (tag === T.SET) this.out.writeSetEnd();
    else this.out.writeListEnd();
  }

  /** `["str","i32",2,{"a":1,"b":2}]`: key and value tags, the count, the entries (keys are JSON strings). */
  private map(n: JsonNode, shape: Shape, at: string): void {
    if (n.t !== 'arr' || n.items.length !== 4)
      throw bad(`${at}: expected a map ["<key type>", "<value type>", size, {…}], got ${describe(n)}`);
    const ktype = this.tag(n.items[0] as JsonNode, at);
    const vtype = this.tag(n.items[1] as JsonNode, at);
    const size = this.count(n.items[2], 'map', at);
    const body = n.items[3] as JsonNode;
    if (body.t !== 'obj') throw bad(`${at}: the map's entries must be a JSON object, got ${describe(body)}`);
    if (body.entries.length !== size) throw bad(`${at}: the map says ${size} entries and has ${body.entries.length}`);
    if (ktype === T.STRUCT || ktype === T.MAP || ktype === T.SET || ktype === T.LIST)
      throw bad(`${at}: map keys of a container or struct type have no JSON form`);
    const key = shape.kind === 'map' ? shape.key : PLAIN;
    const val = shape.kind === 'map' ? shape.value : PLAIN;
    this.out.writeMapBegin(ktype, vtype, size);
    for (const [k, v] of body.entries) {
      // a key is always a JSON string: numbers and booleans are their text
      const keyNode: JsonNode =
        ktype === T.STRING
          ? { t: 'str', value: k }
          : ktype === T.DOUBLE && !/^-?[0-9]/.test(k)
            ? { t: 'str', value: k }
            : { t: 'num', text: k };
      this.value(ktype, keyNode, key, `${at}{key}`);
      this.value(vtype, v, val, `${at}{${JSON.stringify(k.slice(0, 40))}}`);
    }
    this.out.writeMapEnd();
  }
}

function headerOf(r: JsonReader, maxName: number): MessageHeader {
  const item = (): JsonNode => {
    const n = r.value(1);
    r.expect(',');
    return n;
  };
  r.expect('[');
  const version = item();
  if (version.t !== 'num' || version.text !== '1')
    throw new JsonHeaderError(`Thrift JSON version must be 1, got ${describe(version)}`);
  const name = item();
  if (name.t !== 'str' || name.value.length === 0)
    throw new JsonHeaderError('the method name must be a non-empty string');
  if (Buffer.byteLength(name.value) > maxName)
    throw new JsonHeaderError(`method name length ${Buffer.byteLength(name.value)} exceeds the limit ${maxName}`);
  const type = item();
  const t = type.t === 'num' && INTEGER.test(type.text) ? Number(type.text) : 0;
  if (t < 1 || t > 4) throw new JsonHeaderError(`invalid message type (${describe(type)})`);
  const seq = r.value(1);
  const seqid = seq.t === 'num' && INTEGER.test(seq.text) ? Number(seq.text) : -1;
  if (seqid < 0 || seqid > 0x7fffffff)
    throw new JsonHeaderError(`seqid must be a number 0..2^31-1, got ${describe(seq)}`);
  return { protocol: 'compact', name: name.value, type: t as MessageType, seqid };
}

/**
 * The compact form of one JSON message, or why not. `shapeOf` gives the shape of the message's
 * struct from its header. Throws JsonHeaderError when even the header does not read.
 */
export function jsonToCompact(
  text: string,
  caps: DecodeCaps,
  maxName: number,
  shapeOf: (header: MessageHeader) => Shape,
): JsonCall {
  // Four JSON levels per Thrift struct ({"1":{"rec":{…}}}) and per map; more is deeper than any twin.
  const r = new JsonReader(text, 4 * caps.maxDepth + 2);
  let header: MessageHeader;
  try {
    header = headerOf(r, maxName);
  } catch (err) {
    if (err instanceof JsonHeaderError) throw err;
    throw new JsonHeaderError(`the message header does not read: ${(err as Error).message}`);
  }
  try {
    r.expect(',');
    const body = r.value(1);
    r.expect(']');
    r.end();
    const bytes = buildMessage('compact', (out) => {
      out.writeMessageBegin(header.name, header.type, header.seqid);
      new BodyWriter(out, caps).struct(body, shapeOf(header), 'args');
      out.writeMessageEnd();
    });
    return { ok: true, header, bytes };
  } catch (err) {
    if (err instanceof JsonBodyError) return { ok: false, header, error: err };
    if (err instanceof JsonTooDeep)
      return { ok: false, header, error: new JsonBodyError(`nesting deeper than ${caps.maxDepth}`, true) };
    if (err instanceof JsonSyntaxError) return { ok: false, header, error: bad(`malformed JSON: ${err.message}`) };
    throw err;
  }
}
