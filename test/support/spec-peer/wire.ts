/**
 * frames.md by hand: the `noon/2` frame codec and the Thrift side of a service peer.
 * Written only from docs/protocol; imports nothing of the repository (the spec-peer test checks).
 */

// ---------------------------------------------------------------------------------------------
// frames.md §2, §3, §4: the `noon/2` frame codec, by hand.
// ---------------------------------------------------------------------------------------------

export const TAG = 'noon/2';

export type Directive =
  { type: 'auth'; sessionId: string; userId: string; username: string } | { type: 'close'; reason: string };

export interface Request {
  requestId: number;
  timeoutMs: number;
  sessionId: string;
  userId: string;
  username: string;
  method: string;
  via: string;
  traceId: string;
  payload: Buffer;
}

export type Outgoing =
  | {
      kind: 'reply';
      requestId: number;
      error?: { code: string; message: string; retryable: boolean };
      directives: Directive[];
      payload: Buffer;
    }
  | { kind: 'push'; sessionId: string; directives: Directive[]; payload: Buffer };

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** `str`: u16 byte length, then UTF-8 (frames.md §2.1). */
export function str(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  return Buffer.concat([u16(bytes.length), bytes]);
}

/** frames.md §4.5: u8 count, then code + fields. */
export function directives(ds: Directive[]): Buffer {
  const parts: Buffer[] = [Buffer.from([ds.length])];
  for (const d of ds) {
    if (d.type === 'auth') parts.push(Buffer.from([1]), str(d.sessionId), str(d.userId), str(d.username));
    else parts.push(Buffer.from([7]), str(d.reason));
  }
  return Buffer.concat(parts);
}

export function header(e: Outgoing): Buffer {
  if (e.kind === 'reply')
    return Buffer.concat([
      Buffer.from([2]),
      u32(e.requestId),
      str(e.error ? JSON.stringify(e.error) : ''),
      directives(e.directives),
    ]);
  return Buffer.concat([Buffer.from([3]), str(e.sessionId), directives(e.directives)]);
}

/** frames.md §3.1: entries of [u16 header length][header][u32 payload length][payload]. */
export function encodeBatch(envelopes: Outgoing[]): Buffer {
  return Buffer.concat(
    envelopes.flatMap((e) => {
      const h = header(e);
      return [u16(h.length), h, u32(e.payload.length), e.payload];
    }),
  );
}

export class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  u8(): number {
    return this.take(1).readUInt8(0);
  }
  u32(): number {
    return this.take(4).readUInt32BE(0);
  }
  str(): string {
    const n = this.take(2).readUInt16BE(0);
    return this.take(n).toString('utf8');
  }
  take(n: number): Buffer {
    if (this.pos + n > this.buf.length) throw new Error(`truncated at byte ${this.pos}`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  get done(): boolean {
    return this.pos === this.buf.length;
  }
}

/** Only request envelopes reach a service ROUTER (frames.md §3.2); anything else is refused here. */
export function decodeRequests(batch: Buffer): Request[] {
  const r = new Reader(batch);
  const out: Request[] = [];
  while (!r.done) {
    const h = new Reader(r.take(r.take(2).readUInt16BE(0)));
    const payload = r.take(r.u32());
    const kind = h.u8();
    if (kind !== 1) throw new Error(`a service only expects requests, got kind ${kind}`);
    out.push({
      requestId: h.u32(),
      timeoutMs: h.u32(),
      sessionId: h.str(),
      userId: h.str(),
      username: h.str(),
      method: h.str(),
      via: h.str(),
      traceId: h.str(),
      payload,
    });
    if (!h.done) throw new Error('trailing header bytes');
  }
  if (out.length === 0) throw new Error('empty batch');
  return out;
}

// ---------------------------------------------------------------------------------------------
// The Thrift side of the peer, by hand (frames.md §5): read a CALL with string arguments, write a
// REPLY with a string or void result in the same protocol, write a compact ONEWAY push.
// ---------------------------------------------------------------------------------------------

export type Proto = 'compact' | 'binary';

export interface Call {
  protocol: Proto;
  name: string;
  seqid: number;
  /** string arguments by field id */
  args: Map<number, string>;
}

export function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n >>> 0;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}

export function readCall(bytes: Buffer): Call {
  let pos = 0;
  const byte = (): number => {
    if (pos >= bytes.length) throw new Error('truncated Thrift message');
    return bytes[pos++] as number;
  };
  const readVarint = (): number => {
    let result = 0;
    for (let shift = 0; ; shift += 7) {
      const b = byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
  };
  const take = (n: number): Buffer => {
    if (pos + n > bytes.length) throw new Error('truncated Thrift message');
    pos += n;
    return bytes.subarray(pos - n, pos);
  };
  const args = new Map<number, string>();
  if (bytes[0] === 0x82) {
    pos = 1;
    const vt = byte();
    if ((vt & 0x1f) !== 1 || vt >> 5 !== 1) throw new Error('not a compact CALL');
    const seqid = readVarint();
    const name = take(readVarint()).toString('utf8');
    let last = 0;
    for (;;) {
      const b = byte();
      if (b === 0) break;
      const delta = b >> 4;
      const id = delta === 0 ? ((z) => (z >>> 1) ^ -(z & 1))(readVarint()) : last + delta;
      last = id;
      if ((b & 0x0f) !== 8) throw new Error(`Echo takes only string arguments, got compact type ${b & 0x0f}`);
      args.set(id, take(readVarint()).toString('utf8'));
    }
    return { protocol: 'compact', name, seqid, args };
  }
  if (bytes.readUInt32BE(0) !== 0x80010001) throw new Error('not a strict binary CALL');
  pos = 4;
  const name = take(take(4).readInt32BE(0)).toString('utf8');
  const seqid = take(4).readInt32BE(0);
  for (;;) {
    const type = byte();
    if (type === 0) break;
    const id = take(2).readInt16BE(0);
    if (type !== 11) throw new Error(`Echo takes only string arguments, got binary type ${type}`);
    args.set(id, take(take(4).readInt32BE(0)).toString('utf8'));
  }
  return { protocol: 'binary', name, seqid, args };
}

/** A Thrift message whose body is a struct of string fields (id -> value), then the field stop. */
export function writeMessage(
  protocol: Proto,
  name: string,
  type: number,
  seqid: number,
  fields: [number, string][],
): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  if (protocol === 'compact') {
    const parts = [Buffer.from([0x82, (type << 5) | 1]), varint(seqid), varint(nameBytes.length), nameBytes];
    let last = 0;
    for (const [id, value] of fields) {
      const delta = id - last;
      // short form (delta 1..15) or long form: type byte, then the zigzag varint id
      parts.push(
        delta >= 1 && delta <= 15
          ? Buffer.from([(delta << 4) | 8])
          : Buffer.concat([Buffer.from([8]), varint((id << 1) ^ (id >> 15))]),
      );
      last = id;
      const v = Buffer.from(value, 'utf8');
      parts.push(varint(v.length), v);
    }
    parts.push(Buffer.from([0]));
    return Buffer.concat(parts);
  }
  const head = Buffer.alloc(4);
  head.writeUInt32BE((0x80010000 | type) >>> 0);
  const seq = Buffer.alloc(4);
  seq.writeInt32BE(seqid);
  const parts = [head, u32(nameBytes.length), nameBytes, seq];
  for (const [id, value] of fields) {
    const f = Buffer.alloc(3);
    f.writeUInt8(11, 0);
    f.writeInt16BE(id, 1);
    const v = Buffer.from(value, 'utf8');
    parts.push(f, u32(v.length), v);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export const REPLY = 2;
export const ONEWAY = 4;
