/**
 * The wire-protocol documents are enough to build a service: a peer written only from
 * docs/protocol/frames.md and docs/protocol/yellow.md (raw ZeroMQ sockets, hand-encoded frames,
 * hand-written Yellow JSON and Thrift compact/binary). It imports nothing of the repository's wire,
 * Yellow, RPC or service code. It registers a new Thrift service `Echo` in a real Yellow process,
 * a real broker process routes client calls to it, and the clients (the npm `thrift` package over
 * raw TCP, framed as in docs/protocol/client.md) get its answers, its errors, its login
 * directive and its pushes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as thrift from 'thrift';
import * as zmq from 'zeromq';
import { kill, killAll, spawnNoon, type Child } from '../support/yellow-harness';
import { until } from '../support/wait';

const HEARTBEAT_MS = 200;
const REQUEST_TIMEOUT_MS = 5000;
/** How long the children get to stop on SIGTERM before they are SIGKILLed (a deadline, not a sleep). */
const STOP_GRACE_MS = 5000;

// ---------------------------------------------------------------------------------------------
// frames.md §2, §3, §4: the `noon/2` frame codec, by hand.
// ---------------------------------------------------------------------------------------------

const TAG = 'noon/2';

type Directive =
  { type: 'auth'; sessionId: string; userId: string; username: string } | { type: 'close'; reason: string };

interface Request {
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

type Outgoing =
  | {
      kind: 'reply';
      requestId: number;
      error?: { code: string; message: string; retryable: boolean };
      directives: Directive[];
      payload: Buffer;
    }
  | { kind: 'push'; sessionId: string; directives: Directive[]; payload: Buffer };

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** `str`: u16 byte length, then UTF-8 (frames.md §2.1). */
function str(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  return Buffer.concat([u16(bytes.length), bytes]);
}

/** frames.md §4.5: u8 count, then code + fields. */
function directives(ds: Directive[]): Buffer {
  const parts: Buffer[] = [Buffer.from([ds.length])];
  for (const d of ds) {
    if (d.type === 'auth') parts.push(Buffer.from([1]), str(d.sessionId), str(d.userId), str(d.username));
    else parts.push(Buffer.from([7]), str(d.reason));
  }
  return Buffer.concat(parts);
}

function header(e: Outgoing): Buffer {
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
function encodeBatch(envelopes: Outgoing[]): Buffer {
  return Buffer.concat(
    envelopes.flatMap((e) => {
      const h = header(e);
      return [u16(h.length), h, u32(e.payload.length), e.payload];
    }),
  );
}

class Reader {
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
function decodeRequests(batch: Buffer): Request[] {
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

type Proto = 'compact' | 'binary';

interface Call {
  protocol: Proto;
  name: string;
  seqid: number;
  /** string arguments by field id */
  args: Map<number, string>;
}

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n >>> 0;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}

function readCall(bytes: Buffer): Call {
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
function writeMessage(protocol: Proto, name: string, type: number, seqid: number, fields: [number, string][]): Buffer {
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

const REPLY = 2;
const ONEWAY = 4;

// ---------------------------------------------------------------------------------------------
// yellow.md: one DEALER to Yellow's ROUTER, JSON requests with a rid, a SUB on its PUB.
// ---------------------------------------------------------------------------------------------

interface YellowEvent {
  type: string;
  instanceId?: string;
  reason?: string;
  draining?: boolean;
  instance?: { instanceId: string; epoch: number; draining: boolean };
}

class YellowConn {
  private readonly dealer = new zmq.Dealer({ linger: 0 });
  private readonly sub = new zmq.Subscriber({ linger: 0 });
  private readonly pending = new Map<number, (reply: Record<string, unknown>) => void>();
  private rid = 0;
  private sends: Promise<void> = Promise.resolve();
  readonly events: YellowEvent[] = [];
  private eventWaiters: Array<() => void> = [];

  constructor(router: string) {
    this.dealer.connect(router);
    void (async () => {
      for await (const [tag, body] of this.dealer) {
        assert.equal(tag?.toString(), 'noon-yellow/1');
        const reply = JSON.parse(String(body)) as Record<string, unknown>;
        this.pending.get(reply.rid as number)?.(reply);
        this.pending.delete(reply.rid as number);
      }
    })().catch(() => undefined);
    void (async () => {
      for await (const [topic, body] of this.sub) {
        assert.equal(topic?.toString(), 'ev');
        this.events.push(JSON.parse(String(body)) as YellowEvent);
        for (const w of this.eventWaiters.splice(0)) w();
      }
    })().catch(() => undefined);
  }

  /** One request; rejects when no reply comes within deadlineMs (yellow.md §2). */
  ask(op: string, fields: Record<string, unknown> = {}, deadlineMs = 2000): Promise<Record<string, unknown>> {
    const rid = ++this.rid;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(new Error(`Yellow gave no reply to ${op} within ${deadlineMs} ms`));
      }, deadlineMs);
      this.pending.set(rid, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      // zeromq.js allows one send in flight per socket
      this.sends = this.sends
        .then(() => this.dealer.send(['noon-yellow/1', JSON.stringify({ op, rid, ...fields })]))
        .catch(reject);
    });
  }

  follow(pub: string): void {
    this.sub.connect(pub);
    this.sub.subscribe('ev');
  }

  /** Waits for an event matching `pred` that arrives after `from` (an index into `events`). */
  async event(what: string, pred: (e: YellowEvent) => boolean, deadlineMs: number, from = 0): Promise<YellowEvent> {
    const end = Date.now() + deadlineMs;
    for (;;) {
      const found = this.events.slice(from).find(pred);
      if (found) return found;
      const left = end - Date.now();
      if (left <= 0) throw new Error(`no Yellow event ${what} within ${deadlineMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.eventWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.dealer.close();
    this.sub.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The Echo peer: a ROUTER serving `Echo:*` (frames.md §5.1) plus its Yellow registration.
// ---------------------------------------------------------------------------------------------

const SERVICE = {
  thriftService: 'Echo',
  methods: ['echo', 'login', 'whoami', 'notify', 'fail', 'secret'],
  publicMethods: ['echo', 'login', 'fail'],
  idempotentMethods: ['echo'],
  internalMethods: ['secret'],
  stateful: false,
};

class EchoPeer {
  readonly instanceId = `echo-${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
  // handover: a broker that dropped us (we expired) reconnects with the same routing id (frames.md §8)
  private readonly router = new zmq.Router({ linger: 0, mandatory: true, handover: true });
  private sends: Promise<void> = Promise.resolve();
  endpoint = '';
  /** every request envelope received, with the routing id it came from */
  readonly requests: { from: string; req: Request; call: Call }[] = [];
  /** routing ids of every message, and how many envelopes it held */
  readonly messages: { from: string; envelopes: number }[] = [];
  accepted = 0;
  /** anything the peer could not handle: the tests assert there is none */
  readonly errors: string[] = [];
  private heartbeat?: NodeJS.Timeout;
  lastHeartbeatSent = 0;
  heartbeatStatuses: string[] = [];
  private inFlight = 0;

  constructor(private readonly yellow: YellowConn) {
    this.router.events.on('accept', () => this.accepted++);
  }

  async start(): Promise<void> {
    await this.router.bind('tcp://127.0.0.1:*');
    this.endpoint = this.router.lastEndpoint as string;
    void this.serve();
  }

  registration(): Record<string, unknown> {
    return {
      role: 'echo',
      instanceId: this.instanceId,
      host: '127.0.0.1',
      endpoints: { router: this.endpoint },
      version: 'spec-1',
      pid: process.pid,
      startedAt: Date.now(),
      load: { inFlight: this.inFlight, elu: 0 },
      service: SERVICE,
    };
  }

  register(): Promise<Record<string, unknown>> {
    return this.yellow.ask('register', { reg: this.registration() });
  }

  /** yellow.md §7 step 6: every heartbeatMs; `unknown` means register again. */
  startHeartbeats(): void {
    this.heartbeat = setInterval(() => {
      this.lastHeartbeatSent = Date.now();
      this.yellow
        .ask('heartbeat', { instanceId: this.instanceId, load: { inFlight: this.inFlight, elu: 0 } }, HEARTBEAT_MS)
        .then(
          (r) => {
            this.heartbeatStatuses.push(String(r.status));
            if (r.status === 'unknown') void this.register();
          },
          () => undefined,
        );
    }, HEARTBEAT_MS);
  }

  stopHeartbeats(): void {
    clearInterval(this.heartbeat);
  }

  private send(frames: (Buffer | string)[]): void {
    this.sends = this.sends.then(() => this.router.send(frames)).catch(() => undefined);
  }

  private async serve(): Promise<void> {
    try {
      for await (const [id, tag, batch, ...extra] of this.router) {
        const from = String(id);
        if (String(tag) !== TAG || batch === undefined || extra.length > 0) continue; // frames.md §2: drop
        try {
          const requests = decodeRequests(batch);
          this.messages.push({ from, envelopes: requests.length });
          // All answers to one message leave in one message, newest first: the broker matches
          // replies by requestId, and clients by seqid (frames.md §3.2, client.md §3.4).
          const out: Outgoing[] = [];
          for (const req of requests) out.unshift(...this.handle(from, req));
          this.send([id as Buffer, TAG, encodeBatch(out)]);
        } catch (err) {
          this.errors.push(String(err));
        }
      }
    } catch (err) {
      if (!this.router.closed) throw err;
    }
  }

  private handle(from: string, req: Request): Outgoing[] {
    const call = readCall(req.payload);
    this.requests.push({ from, req, call });
    assert.equal(call.name, req.method, 'the Thrift name is the envelope method');
    const method = req.method.slice(req.method.indexOf(':') + 1);
    const ok = (fields: [number, string][], directives: Directive[] = []): Outgoing => ({
      kind: 'reply',
      requestId: req.requestId,
      directives,
      payload: writeMessage(call.protocol, method, REPLY, call.seqid, fields),
    });
    switch (method) {
      case 'echo':
        return [ok([[0, call.args.get(1) ?? '']])];
      case 'login': {
        const name = call.args.get(1) ?? '';
        return [
          ok([[0, `sess-${name}`]], [{ type: 'auth', sessionId: `sess-${name}`, userId: `u-${name}`, username: name }]),
        ];
      }
      case 'whoami':
        return [ok([[0, `${req.userId}|${req.username}|${req.sessionId}`]])];
      case 'notify': {
        // A push for the caller's session, to the broker named by `via` (frames.md §5.3), in the
        // same batch as the reply: compact, ONEWAY, seqid 0, Events:<method>.
        const push = writeMessage('compact', 'Events:echoed', ONEWAY, 0, [[1, call.args.get(1) ?? '']]);
        assert.equal(req.via, from, 'via is the routing id of the broker that sent the call');
        return [{ kind: 'push', sessionId: req.sessionId, directives: [], payload: push }, ok([])];
      }
      case 'fail':
        return [
          {
            kind: 'reply',
            requestId: req.requestId,
            error: { code: 'NOT_FOUND', message: 'NOT_FOUND: no such echo', retryable: false },
            directives: [],
            payload: Buffer.alloc(0),
          },
        ];
      default:
        throw new Error(`the broker must not route ${req.method} here`);
    }
  }

  close(): void {
    this.stopHeartbeats();
    this.router.close();
  }
}

// ---------------------------------------------------------------------------------------------
// A client from client.md, on the npm `thrift` protocols: framed TCP, Service:method names,
// replies matched by seqid, pushes told apart by their message type.
// ---------------------------------------------------------------------------------------------

interface Received {
  name: string;
  type: thrift.Thrift.MessageType;
  seqid: number;
  /** REPLY: string fields by id; EXCEPTION: the TApplicationException message in field 1; ONEWAY: the args */
  fields: Map<number, string>;
}

function encodeCall(protocol: Proto, name: string, seqid: number, args: [number, string][]): Buffer {
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

function decodeMessage(body: Buffer): Received {
  const trans = new thrift.TFramedTransport(body);
  const input = body[0] === 0x82 ? new thrift.TCompactProtocol(trans) : new thrift.TBinaryProtocol(trans);
  const m = input.readMessageBegin();
  const fields = new Map<number, string>();
  input.readStructBegin();
  for (;;) {
    const f = input.readFieldBegin();
    if (f.ftype === thrift.Thrift.Type.STOP) break;
    if (f.ftype === thrift.Thrift.Type.STRING) fields.set(f.fid, input.readString());
    else input.skip(f.ftype);
    input.readFieldEnd();
  }
  input.readStructEnd();
  input.readMessageEnd();
  return { name: m.fname, type: m.mtype, seqid: m.rseqid, fields };
}

class Client {
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

const isReply = (m: Received): boolean => m.type === thrift.Thrift.MessageType.REPLY;
const isException = (m: Received): boolean => m.type === thrift.Thrift.MessageType.EXCEPTION;

// ---------------------------------------------------------------------------------------------

const procs: Child[] = [];
const clients: Client[] = [];
let dataDir = '';
let yellowProc: Child;
let brokerProc: Child;
let yellow: YellowConn;
let peer: EchoPeer;
let brokerId = '';
let brokerTcp = '';

async function client(protocol: Proto = 'compact'): Promise<Client> {
  const c = await Client.open(brokerTcp, protocol);
  clients.push(c);
  return c;
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'noon-spec-peer-'));
  // Only what this test sets: no NOON_* inherited from the shell (CURVE, Redis, ports).
  const env: Record<string, string> = {};
  for (const k of Object.keys(process.env)) if (k.startsWith('NOON_')) env[k] = '';
  Object.assign(env, {
    NOON_HEARTBEAT_MS: String(HEARTBEAT_MS),
    NOON_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    NOON_YELLOW_PORT: '0',
    NOON_BROKER_PORT: '0',
    NOON_BROKER_WS_PORT: '0',
    NOON_METRICS_PORT: '0',
    NOON_LOG_LEVEL: 'error',
    NOON_DATA_DIR: dataDir,
    NOON_CALLS_PER_SECOND: '1000',
  });
  yellowProc = await spawnNoon(['start', 'yellow'], env);
  procs.push(yellowProc);
  yellow = new YellowConn(String(yellowProc.ready.router));
  const hello = await yellow.ask('hello');
  assert.equal(hello.ok, true);
  assert.match(String(hello.pub), /^tcp:\/\/.+:\d+$/);
  yellow.follow(String(hello.pub));

  peer = new EchoPeer(yellow);
  await peer.start();
  // PUB drops events until the SUB's subscription has reached it, so register until the `up`
  // event of our registration is seen (each registration publishes one: yellow.md §3.1).
  let epoch = 0;
  await until(
    'the up event of our registration',
    async () => {
      const from = yellow.events.length;
      const reply = await peer.register();
      assert.equal(reply.ok, true, JSON.stringify(reply));
      assert.equal(typeof reply.epoch, 'number');
      assert.ok((reply.epoch as number) > epoch, 'the epoch grows on every registration');
      epoch = reply.epoch as number;
      const up = await yellow
        .event('up', (e) => e.type === 'up' && e.instance?.instanceId === peer.instanceId, 300, from)
        .catch(() => undefined);
      return up ? up : undefined;
    },
    10_000,
    1,
  );
  peer.startHeartbeats();

  // Started after the registration: the broker knows Echo before it takes any connection
  // (yellow.md §7 step 5), and connects its DEALER to our ROUTER.
  brokerProc = await spawnNoon(['start', 'broker'], { ...env, NOON_YELLOW: String(yellowProc.ready.router) });
  procs.push(brokerProc);
  brokerId = String(brokerProc.ready.instanceId);
  brokerTcp = String(brokerProc.ready.tcp);
  await until('the broker to connect to the peer', () => (peer.accepted > 0 ? true : undefined), 10_000);
});

after(async () => {
  for (const c of clients) c.close();
  peer?.close();
  if (yellow) {
    await yellow.ask('deregister', { instanceId: peer.instanceId }).catch(() => undefined);
    yellow.close();
  }
  // SIGTERM by pid (a clean stop deregisters); anything still running after 5 s is SIGKILLed.
  const deadline = setTimeout(() => killAll(), STOP_GRACE_MS);
  await Promise.all(procs.reverse().map((p) => kill(p, 'SIGTERM')));
  clearTimeout(deadline);
  rmSync(dataDir, { recursive: true, force: true });
});

test('Yellow lists the peer exactly as registered', async () => {
  const q = await yellow.ask('query', { filter: { service: 'Echo' } });
  assert.equal(q.ok, true);
  const instances = q.instances as Array<Record<string, unknown>>;
  assert.equal(instances.length, 1);
  const rec = instances[0] as Record<string, unknown>;
  assert.equal(rec.instanceId, peer.instanceId);
  assert.equal(rec.role, 'echo');
  assert.deepEqual(rec.endpoints, { router: peer.endpoint });
  assert.deepEqual(rec.service, SERVICE);
  assert.equal(rec.draining, false);
  assert.equal(typeof rec.lastHeartbeat, 'number');
  const bad = await yellow.ask('register', { reg: { ...peer.registration(), endpoints: { router: 'http://x:1' } } });
  assert.equal(bad.ok, false);
  assert.equal((bad.error as { code: string }).code, 'BAD_REQUEST');
  // The code appears once, as the message's prefix.
  assert.match((bad.error as { message: string }).message, /^BAD_REQUEST: registration field endpoints\.router/);
});

test('an anonymous compact client calls the peer through the broker (seqid 0 accepted)', async () => {
  const c = await client();
  const r = await c.call('Echo:echo', 0, [[1, 'hello']]);
  assert.ok(isReply(r), `a REPLY, got type ${r.type}`);
  assert.equal(r.seqid, 0);
  assert.equal(r.name, 'echo', 'the name the peer wrote, untouched by the broker');
  assert.equal(r.fields.get(0), 'hello');
  const seen = peer.requests.find((x) => x.call.args.get(1) === 'hello');
  assert.ok(seen, 'the peer got the call');
  assert.equal(seen.from, brokerId, 'the routing id is the broker instance id');
  assert.equal(seen.req.via, brokerId);
  assert.equal(seen.req.method, 'Echo:echo');
  assert.equal(seen.req.userId, '');
  assert.equal(seen.req.username, '');
  assert.match(seen.req.sessionId, new RegExp(`^anon:${brokerId}:`));
  assert.equal(seen.req.timeoutMs, REQUEST_TIMEOUT_MS);
  assert.ok(seen.req.traceId.length > 0);
  assert.ok(
    seen.req.payload.equals(encodeCall('compact', 'Echo:echo', 0, [[1, 'hello']]).subarray(4)),
    'the payload is the client bytes, without the frame length',
  );
});

test('pipelined calls come back matched by seqid, whatever the order the peer answered in', async () => {
  const c = await client();
  const n = 40;
  for (let i = 1; i <= n; i++) c.send('Echo:echo', i, [[1, `m${i}`]]);
  const answers = await Promise.all(
    Array.from({ length: n }, (_, k) => c.next(`reply ${k + 1}`, (m) => m.seqid === k + 1)),
  );
  assert.deepEqual(
    answers.map((a) => a.fields.get(0)),
    Array.from({ length: n }, (_, k) => `m${k + 1}`),
  );
  assert.ok(
    peer.messages.some((m) => m.envelopes > 1),
    'the broker batched several requests into one ZeroMQ message',
  );
});

test('a binary-protocol client gets a binary reply', async () => {
  const c = await client('binary');
  const r = await c.call('Echo:echo', 7, [[1, 'in binary']]);
  assert.ok(isReply(r));
  assert.equal(r.fields.get(0), 'in binary');
  assert.equal(peer.requests.at(-1)?.call.protocol, 'binary');
});

test("errors: the peer's error frame, and the broker's own refusals, as TApplicationException with a code prefix", async () => {
  const c = await client();
  const failed = await c.call('Echo:fail', 1);
  assert.ok(isException(failed));
  assert.equal(failed.fields.get(1), 'NOT_FOUND: no such echo');
  const whoami = await c.call('Echo:whoami', 2);
  assert.ok(isException(whoami));
  assert.equal(whoami.fields.get(1), 'UNAUTHENTICATED: log in before calling Echo:whoami');
  assert.equal(whoami.name, 'Echo:whoami', 'a broker-made error carries the name the client sent');
  const secret = await c.call('Echo:secret', 3);
  assert.ok(isException(secret));
  assert.match(secret.fields.get(1) ?? '', /^FORBIDDEN: /);
  assert.ok(
    !peer.requests.some((x) => x.req.method === 'Echo:whoami' || x.req.method === 'Echo:secret'),
    'refused calls never reach the peer',
  );
  // An unknown method before login closes the connection at once (client.md §9.3).
  c.send('Echo:nope', 4);
  await c.waitClosed(5000);
});

test('the peer logs a connection in with an auth directive, and pushes to the session via its broker', async () => {
  const bob = await client();
  const login = await bob.call('Echo:login', 1, [[1, 'bob']]);
  assert.ok(isReply(login));
  assert.equal(login.fields.get(0), 'sess-bob');
  const who = await bob.call('Echo:whoami', 2);
  assert.ok(isReply(who), `whoami after login: ${who.fields.get(1)}`);
  assert.equal(who.fields.get(0), 'u-bob|bob|sess-bob');

  const done = await bob.call('Echo:notify', 3, [[1, 'ping!']]);
  assert.ok(isReply(done));
  const push = await bob.next('the Events:echoed push', (m) => m.type === thrift.Thrift.MessageType.ONEWAY);
  assert.equal(push.name, 'Events:echoed');
  assert.equal(push.seqid, 0);
  assert.equal(push.fields.get(1), 'ping!');

  // A binary client gets the (compact) push converted to binary by the broker.
  const dan = await client('binary');
  assert.ok(isReply(await dan.call('Echo:login', 1, [[1, 'dan']])));
  assert.ok(isReply(await dan.call('Echo:notify', 2, [[1, 'to binary']])));
  const pushB = await dan.next('a push in binary', (m) => m.type === thrift.Thrift.MessageType.ONEWAY);
  assert.equal(pushB.name, 'Events:echoed');
  assert.equal(pushB.fields.get(1), 'to binary');

  // One live connection per session: logging into sess-bob elsewhere kicks the first connection.
  const bob2 = await client();
  assert.ok(isReply(await bob2.call('Echo:login', 1, [[1, 'bob']])));
  const kicked = await bob.next('Events:kicked', (m) => m.name === 'Events:kicked');
  assert.equal(kicked.type, thrift.Thrift.MessageType.ONEWAY);
  assert.equal(kicked.fields.get(1), 'session resumed on another connection');
  await bob.waitClosed(5000);
  assert.ok(isReply(await bob2.call('Echo:notify', 2, [[1, 'still here']])));
  assert.equal(
    (await bob2.next('push on the new connection', (m) => m.name === 'Events:echoed')).fields.get(1),
    'still here',
  );
});

test('drain, expiry after three missed heartbeats, and re-registration on `unknown`', async () => {
  const c = await client();
  const echo = async (seqid: number): Promise<Received> => c.call('Echo:echo', seqid, [[1, 'x']]);
  let seq = 100;

  // Drained: the only instance takes no new work; the service stays known (UNAVAILABLE).
  let from = yellow.events.length;
  assert.equal((await yellow.ask('drain', { instanceId: peer.instanceId, draining: true })).found, true);
  await yellow.event(
    'draining',
    (e) => e.type === 'draining' && e.instanceId === peer.instanceId && e.draining === true,
    2000,
    from,
  );
  const refused = await until(
    'the broker to stop routing to the drained peer',
    async () => {
      const r = await echo(++seq);
      return isException(r) ? r : undefined;
    },
    5000,
  );
  assert.equal(refused.fields.get(1), 'UNAVAILABLE: Echo has no live instance');
  assert.equal((await yellow.ask('drain', { instanceId: peer.instanceId, draining: false })).found, true);
  await until('routing again after undrain', async () => (isReply(await echo(++seq)) ? true : undefined), 5000);

  // Silent: down with reason `expired` 3 to 3.5 heartbeats after the last one (plus scheduling slack).
  from = yellow.events.length;
  peer.stopHeartbeats();
  const silentSince = peer.lastHeartbeatSent;
  await yellow.event(
    'down/expired',
    (e) => e.type === 'down' && e.instanceId === peer.instanceId && e.reason === 'expired',
    10 * HEARTBEAT_MS,
    from,
  );
  const silentFor = Date.now() - silentSince;
  assert.ok(silentFor >= 3 * HEARTBEAT_MS, `expired after ${silentFor} ms of silence, before 3 heartbeats`);
  const gone = await until(
    'the broker to drop the expired peer',
    async () => {
      const r = await echo(++seq);
      return isException(r) ? r : undefined;
    },
    5000,
  );
  assert.equal(gone.fields.get(1), 'UNAVAILABLE: Echo has no live instance');

  // Heartbeats again: Yellow answers `unknown`, the peer registers again and is routed to.
  from = yellow.events.length;
  peer.startHeartbeats();
  await yellow.event(
    'up after re-registration',
    (e) => e.type === 'up' && e.instance?.instanceId === peer.instanceId,
    5000,
    from,
  );
  assert.ok(peer.heartbeatStatuses.includes('unknown'));
  const back = await until(
    'routing after re-registration',
    async () => {
      const r = await echo(++seq);
      return isReply(r) ? r : undefined;
    },
    5000,
  );
  assert.equal(back.fields.get(0), 'x');
});

test('the peer met nothing it could not handle', () => {
  assert.deepEqual(peer.errors, []);
});

test('the peer is written from the documents alone: no repository wire, Yellow, RPC or service code', () => {
  // every import statement, also one that spans several lines
  const imports = [...readFileSync(__filename, 'utf8').matchAll(/^import\b[^;]*?\bfrom '([^']+)';/gm)].map(
    (m) => m[1] as string,
  );
  const forbidden = imports.filter((from) =>
    /(^|\/)(shared\/wire|shared\/thrift|yellow|services|rpc|broker|edge|client)(\/|$)/.test(from),
  );
  assert.deepEqual(forbidden, []);
  assert.ok(imports.includes('zeromq') && imports.includes('thrift'));
});
