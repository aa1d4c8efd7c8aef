/**
 * Typed Thrift calls over any byte pipe: the client SDK (TCP/WebSocket) and service-to-service
 * calls (ZeroMQ) both use it. Generated clients write "Service:method" names with one seqid
 * counter shared by every service on the channel, so a reply is found by its seqid alone.
 */
import * as thrift from 'thrift';
import { type DecodeCaps } from './capped';
import { peekHeader, type MessageHeader, type ThriftProtocol } from './header';
import { multiplexedProtocol, openMessage, protocolClass } from './messages';
import { bufferTransport } from './fast-write';

/** What every generated Client class looks like to the channel. */
export interface GeneratedClient {
  _reqs: Record<number, (err: Error | object | undefined, val?: unknown) => void>;
  incrementSeqId(): number;
}
export type ClientClass<C> = new (
  output: thrift.TTransport,
  protocol: new (trans: thrift.TTransport) => thrift.TProtocol,
) => C;

export interface OutgoingCall {
  /** the Thrift message with its 4-byte frame length in front (framed TCP sends it as is) */
  framed: Buffer;
  header: MessageHeader;
  service: string;
}

const MAX_SEQID = 0x7fffffff;

export class ThriftChannel {
  private seqid = 0;
  private readonly clients = new Map<string, unknown>();
  private readonly pending = new Map<number, GeneratedClient>();

  constructor(
    private readonly send: (call: OutgoingCall) => void,
    private readonly opts: {
      protocol: ThriftProtocol;
      caps: DecodeCaps;
      maxName?: number;
      onOneway?: (bytes: Buffer, header: MessageHeader) => void;
    },
  ) {}

  get inFlight(): number {
    return this.pending.size;
  }

  /** The generated client of `service` on this channel (one per service, created on first use). */
  client<C extends object>(Ctor: ClientClass<C>, service: string): C {
    const existing = this.clients.get(service);
    if (existing) return existing as C;
    const transport = bufferTransport((framed) =>
      this.send({ framed, header: peekHeader(framed.subarray(4), this.opts.maxName ?? 1024), service }),
    );
    const c = new Ctor(transport, multiplexedProtocol(protocolClass(this.opts.protocol), service));
    const gen = c as unknown as GeneratedClient;
    gen.incrementSeqId = () => {
      this.seqid = this.seqid >= MAX_SEQID ? 1 : this.seqid + 1;
      this.pending.set(this.seqid, gen);
      return this.seqid;
    };
    this.clients.set(service, c);
    return c;
  }

  /** Feeds one received Thrift message (no frame length): a reply to a pending call, or a oneway push. */
  receive(bytes: Buffer): void {
    const header = peekHeader(bytes, this.opts.maxName ?? 1024);
    if (header.type === thrift.Thrift.MessageType.ONEWAY) {
      this.opts.onOneway?.(bytes, header);
      return;
    }
    const client = this.pending.get(header.seqid);
    if (!client) return; // late reply to a call that already timed out
    this.pending.delete(header.seqid);
    const { input } = openMessage(bytes, this.opts.caps);
    const m = input.readMessageBegin();
    const name = m.fname.slice(m.fname.indexOf(':') + 1);
    const recv = (client as unknown as Record<string, unknown>)[`recv_${name}`];
    if (typeof recv !== 'function') {
      this.fail(header.seqid, new Error(`reply names unknown method ${JSON.stringify(m.fname)}`), client);
      return;
    }
    try {
      (recv as (i: thrift.TProtocol, t: number, s: number) => void).call(client, input, m.mtype, m.rseqid);
    } catch (err) {
      this.fail(header.seqid, err as Error, client);
    }
  }

  /** Rejects one pending call (timeout, connection lost, ...). */
  fail(seqid: number, err: Error, client = this.pending.get(seqid)): void {
    this.pending.delete(seqid);
    const cb = client?._reqs[seqid];
    if (cb) cb(err);
  }

  failAll(err: Error): void {
    for (const seqid of [...this.pending.keys()]) this.fail(seqid, err);
  }
}
