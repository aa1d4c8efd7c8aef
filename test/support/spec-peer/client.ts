/**
 * A client written from client.md on the npm `thrift` protocols: framed TCP, `Service:method`
 * names, replies matched by seqid, pushes told apart by their message type.
 * Written only from docs/protocol; imports nothing of the repository (the spec-peer test checks).
 */
import { connect, type Socket } from 'node:net';
import * as thrift from 'thrift';
import type { Proto } from './wire';

// ---------------------------------------------------------------------------------------------
// A client from client.md, on the npm `thrift` protocols: framed TCP, Service:method names,
// replies matched by seqid, pushes told apart by their message type.
// ---------------------------------------------------------------------------------------------

export interface Received {
  name: string;
  type: thrift.Thrift.MessageType;
  seqid: number;
  /** REPLY: string fields by id; EXCEPTION: the TApplicationException message in field 1; ONEWAY: the args */
  fields: Map<number, string>;
  /** the ids of the struct fields (not decoded): in a reply, 0 is a result, 1 and up a declared error */
  structs: Set<number>;
}

export function encodeCall(protocol: Proto, name: string, seqid: number, args: [number, string][]): Buffer {
  let framed: Buffer | undefined;
  const trans = new thrift.TFramedTransport(undefined, (buf) => {
    framed = buf;
  });
  const out = protocol === 'compact' ? new thrift.TCompactProtocol(trans) : new thrift.TBinaryProtocol(trans);
  out.writeMessageBegin(name, thrift.Thrift.MessageType.CALL, seqid);
  out.writeStructBegin('args');
  for (const [id, value] of args) {
    out.writeFieldBegin(`f${id}`, thrift.Thrift.Type.STRING, id);
    out.writeString(value);
    out.writeFieldEnd();
  }
  out.writeFieldStop();
  out.writeStructEnd();
  out.writeMessageEnd();
  trans.flush();
  if (!framed) throw new Error('no bytes written');
  return framed;
}

export function decodeMessage(body: Buffer): Received {
  const trans = new thrift.TFramedTransport(body);
  const input = body[0] === 0x82 ? new thrift.TCompactProtocol(trans) : new thrift.TBinaryProtocol(trans);
  const m = input.readMessageBegin();
  const fields = new Map<number, string>();
  const structs = new Set<number>();
  input.readStructBegin();
  for (;;) {
    const f = input.readFieldBegin();
    if (f.ftype === thrift.Thrift.Type.STOP) break;
    if (f.ftype === thrift.Thrift.Type.STRING) fields.set(f.fid, input.readString());
    else {
      if (f.ftype === thrift.Thrift.Type.STRUCT) structs.add(f.fid);
      input.skip(f.ftype);
    }
    input.readFieldEnd();
  }
  input.readStructEnd();
  input.readMessageEnd();
  return { name: m.fname, type: m.mtype, seqid: m.rseqid, fields, structs };
}

export class Client {
  readonly received: Received[] = [];
  readonly closed: Promise<void>;
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private constructor(
    private readonly socket: Socket,
    readonly protocol: Proto,
  ) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 4 && this.buf.length >= 4 + this.buf.readInt32BE(0)) {
        const len = this.buf.readInt32BE(0);
        this.received.push(decodeMessage(this.buf.subarray(4, 4 + len)));
        this.buf = this.buf.subarray(4 + len);
      }
      this.wake();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.wake();
        resolve();
      }),
    );
  }

  static async open(endpoint: string, protocol: Proto = 'compact'): Promise<Client> {
    const [host, port] = endpoint.split(':');
    const socket = connect(Number(port), host as string);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new Client(socket, protocol);
  }

  get isClosed(): boolean {
    return this.socket.destroyed || this.socket.readableEnded;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(name: string, seqid: number, args: [number, string][] = []): void {
    this.socket.write(encodeCall(this.protocol, name, seqid, args));
  }

  /** The first received message matching `pred`, within deadlineMs. */
  async next(what: string, pred: (m: Received) => boolean, deadlineMs = 5000): Promise<Received> {
    const end = Date.now() + deadlineMs;
    for (;;) {
      const i = this.received.findIndex(pred);
      if (i >= 0) return this.received.splice(i, 1)[0] as Received;
      const left = end - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${deadlineMs} ms`);
      if (this.isClosed) throw new Error(`connection closed before ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** One call; resolves with the REPLY or EXCEPTION carrying its seqid. */
  async call(name: string, seqid: number, args: [number, string][] = []): Promise<Received> {
    this.send(name, seqid, args);
    return this.next(
      `answer to ${name} #${seqid}`,
      (m) => m.seqid === seqid && m.type !== thrift.Thrift.MessageType.ONEWAY,
    );
  }

  async waitClosed(deadlineMs: number): Promise<void> {
    await Promise.race([
      this.closed,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`connection still open after ${deadlineMs} ms`)), deadlineMs).unref(),
      ),
    ]);
  }

  close(): void {
    this.socket.destroy();
  }
}

export const isReply = (m: Received): boolean => m.type === thrift.Thrift.MessageType.REPLY;
export const isException = (m: Received): boolean => m.type === thrift.Thrift.MessageType.EXCEPTION;
