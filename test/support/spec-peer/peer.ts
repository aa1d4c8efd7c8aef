/**
 * The Echo service peer of the spec-peer test: a ROUTER serving `Echo:*` and its Yellow registration.
 * Written only from docs/protocol; imports nothing of the repository (the spec-peer test checks).
 */
import assert from 'node:assert/strict';
import * as zmq from 'zeromq';
import {
  decodeRequests,
  encodeBatch,
  readCall,
  writeMessage,
  ONEWAY,
  REPLY,
  TAG,
  type Call,
  type Directive,
  type Outgoing,
  type Request,
} from './wire';
import { type YellowConn } from './yellow';

export const HEARTBEAT_MS = 200;

// ---------------------------------------------------------------------------------------------
// The Echo peer: a ROUTER serving `Echo:*` (frames.md §5.1) plus its Yellow registration.
// ---------------------------------------------------------------------------------------------

export const SERVICE = {
  thriftService: 'Echo',
  methods: ['echo', 'login', 'whoami', 'notify', 'fail', 'secret'],
  publicMethods: ['echo', 'login', 'fail'],
  idempotentMethods: ['echo'],
  internalMethods: ['secret'],
  stateful: false,
};

export class EchoPeer {
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
