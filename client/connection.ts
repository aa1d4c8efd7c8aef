/**
 * A ThriftChannel over a swappable transport: typed generated clients stay the same objects
 * while the transport under them is replaced (reconnect). Owns per-call deadlines and the
 * bounded queue of calls waiting for a transport.
 *
 * Call lifecycle: a generated client writes a call -> it gets a deadline and is sent at once, or
 * queued while there is no transport (or the transport is held for a resume). A reply settles it;
 * the deadline rejects it with TIMEOUT; a transport drop rejects the calls *sent* on it with
 * CONNECTION_LOST (outcome unknown), while queued ones keep waiting for the next transport —
 * except a call made in a session, which carries a request id and is sent once more on the next
 * transport (after the resume) with the same id: the service answers it with its first outcome
 * (docs/retries.md). Such a call answered `TIMEOUT` by the server (it may have run: an instance
 * declared down with the call in its socket, a COMMIT whose answer was lost) is sent once more at
 * once, the same way; only a second `TIMEOUT` reaches the app.
 *
 * No platform here: transports come from the `connector` (Node: transports.ts, browser:
 * ws-browser.ts), so the Node SDK and the browser build share this file.
 */
import type * as thrift from 'thrift';
import { ThriftChannel, type ClientClass, type GeneratedClient, type OutgoingCall } from '../shared/thrift/channel';
import type { DecodeCaps } from '../shared/thrift/capped';
import { MessageType, peekHeader, type MessageHeader, type ThriftProtocol } from '../shared/thrift/header';
import type { ProtocolClass } from '../shared/thrift/messages';
import type { TransportKind } from './brokerlist';
import { withRequestId } from '../shared/thrift/request-id';
import { replyOutcome } from '../shared/thrift/reply-outcome';
import { ClientError } from './errors';
import { bigintWrites } from './i64';
import type { Connector, Transport, TransportOptions } from './transport';

export interface ConnectionOptions {
  /** opens transports: `connectTransport` (transports.ts) on Node, `connectBrowser` (ws-browser.ts) in a page */
  connector: Connector;
  protocol?: ThriftProtocol;
  /** default per-call deadline; default 10 000 ms */
  callTimeoutMs?: number;
  /** caps for decoding replies and pushes */
  caps?: DecodeCaps;
  /** calls that may wait for a transport; past it a call fails at once with BUSY; default 1024 */
  maxQueued?: number;
  /** a ONEWAY message arrived (a push) */
  onPush?: (bytes: Buffer, header: MessageHeader) => void;
  /** the attached transport closed; calls sent on it have already been rejected (or kept to re-send) */
  onDrop?: (reason: string, transport: Transport) => void;
  /** true while logged in: calls made then get a request id and one re-send after a drop */
  inSession?: () => boolean;
}

/** Replies are the broker's and services' own output: generous caps, still bounded. */
export const CLIENT_CAPS: DecodeCaps = { maxString: 1 << 20, maxContainer: 100_000, maxDepth: 32 };

interface CallRecord {
  seqid: number;
  name: string;
  service: string;
  framed: Buffer;
  timeoutMs: number;
  timer: ReturnType<typeof setTimeout>;
  sentOn?: Transport;
  /** has a request id and has not been sent again yet (after a drop, or a TIMEOUT reply) */
  mayResend: boolean;
  /** was sent on a transport that dropped, and waits to be sent again */
  resent: boolean;
}

/** The call may have reached the server. */
function wasSent(rec: CallRecord): boolean {
  return rec.sentOn !== undefined || rec.resent;
}

/** 12 hex digits, random per client: request ids of two clients of one session never meet. */
function randomStream(): string {
  const bytes = new Uint8Array(6);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class Connection {
  readonly channel: ThriftChannel;
  private readonly clients = new Map<string, GeneratedClient>();
  private readonly calls = new Map<number, CallRecord>();
  private readonly callTimeoutMs: number;
  private readonly caps: DecodeCaps;
  private transport?: Transport;
  private held = false;
  private priority = false;
  private nextTimeoutMs?: number;
  private unsent = 0;
  private closedReason?: string;
  private lastReceived = Date.now();
  /** whenSentSettled() checks, run whenever a call settles */
  private readonly settledWaiters = new Set<() => void>();
  private readonly requestStream = randomStream();
  private requestCount = 0;

  constructor(private readonly opts: ConnectionOptions) {
    this.callTimeoutMs = opts.callTimeoutMs ?? 10_000;
    this.caps = opts.caps ?? CLIENT_CAPS;
    this.channel = new ThriftChannel((call) => this.onSend(call), {
      protocol: opts.protocol ?? 'compact',
      caps: this.caps,
      onOneway: (bytes, header) => this.opts.onPush?.(bytes, header),
    });
  }

  /** The transport in use, if any. */
  get current(): Transport | undefined {
    return this.transport;
  }

  /** Calls written and not settled (sent or queued). */
  get inFlight(): number {
    return this.calls.size;
  }

  /** ms since the last message from the broker (keep-alive). */
  get idleMs(): number {
    return Date.now() - this.lastReceived;
  }

  /**
   * The generated client of `service` on this connection (one per service name: a second call
   * returns the first client). Its i64 arguments may also be bigints (i64.ts).
   */
  client<C extends object>(Ctor: ClientClass<C>, service: string): C {
    const Base = Ctor as unknown as ClientClass<object>;
    const WithBigints = class extends Base {
      constructor(output: thrift.TTransport, protocol: ProtocolClass) {
        super(output, bigintWrites(protocol));
      }
    } as unknown as ClientClass<C>;
    const c = this.channel.client(WithBigints, service);
    this.clients.set(service, c as unknown as GeneratedClient);
    return c;
  }

  /**
   * Opens a transport and attaches it (closing any previous one). With `hold`, queued and new
   * calls wait until release(); only calls made inside withPriority() go out (e.g. Sso:resume).
   */
  async connect(
    kind: TransportKind,
    endpoint: string,
    opts: TransportOptions & { hold?: boolean } = {},
  ): Promise<Transport> {
    if (this.closedReason) throw new ClientError('CLOSED', `connection is closed (${this.closedReason})`);
    const holder: { t?: Transport } = {};
    const t = await this.opts.connector(
      kind,
      endpoint,
      {
        message: (bytes) => {
          if (holder.t === this.transport) this.receive(bytes);
        },
        close: (reason) => {
          if (holder.t === this.transport && holder.t) this.detach(holder.t, reason);
        },
      },
      opts,
    );
    if (this.closedReason) {
      t.close('client closed');
      throw new ClientError('CLOSED', `connection is closed (${this.closedReason})`);
    }
    const old = this.transport;
    if (old) {
      old.close('replaced by a new connection');
      this.detach(old, 'replaced by a new connection', false);
    }
    holder.t = t;
    this.transport = t;
    this.lastReceived = Date.now();
    this.held = opts.hold ?? false;
    if (!this.held) this.flushQueued();
    return t;
  }

  /**
   * Holds the current transport: new calls queue (as during a reconnect) while the calls already
   * sent on it finish. How a client leaves a draining broker without an outcome-unknown call.
   */
  hold(): void {
    this.held = true;
  }

  /** Resolves once no call sent on the current transport awaits a reply, or after `timeoutMs`. */
  whenSentSettled(timeoutMs: number): Promise<void> {
    const t = this.transport;
    const pending = (): boolean => [...this.calls.values()].some((rec) => rec.sentOn !== undefined && rec.sentOn === t);
    if (!pending()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const deadline = Date.now() + timeoutMs;
      const check = (): void => {
        if (!pending() || Date.now() >= deadline || this.transport !== t) {
          this.settledWaiters.delete(check);
          resolve();
        }
      };
      this.settledWaiters.add(check);
      setTimeout(check, timeoutMs);
    });
  }

  /** Ends the hold: queued calls go out in the order they were made. */
  release(): void {
    this.held = false;
    this.flushQueued();
  }

  /** Runs `fn`, whose calls bypass a hold (the calls are written synchronously inside it). */
  withPriority<T>(fn: () => T): T {
    this.priority = true;
    try {
      return fn();
    } finally {
      this.priority = false;
    }
  }

  /** Runs `fn`, whose calls get `timeoutMs` instead of the default deadline. */
  withTimeout<T>(timeoutMs: number, fn: () => T): T {
    const prev = this.nextTimeoutMs;
    this.nextTimeoutMs = timeoutMs;
    try {
      return fn();
    } finally {
      this.nextTimeoutMs = prev;
    }
  }

  /** Closes the current transport (if any); calls sent on it reject with CONNECTION_LOST. */
  drop(reason: string): void {
    this.transport?.close(reason);
  }

  /** Closes for good: every call still pending rejects with CLOSED. */
  close(reason = 'closed by the client'): void {
    if (this.closedReason) return;
    this.closedReason = reason;
    const t = this.transport;
    this.transport = undefined;
    t?.close(reason);
    for (const rec of [...this.calls.values()]) {
      const what = wasSent(rec) ? 'it was in flight; the outcome is unknown' : 'it was never sent';
      this.settle(rec, new ClientError('CLOSED', `${rec.name}: ${reason}; ${what}`, { outcomeUnknown: wasSent(rec) }));
    }
  }

  /** Rejects every queued (never sent) call, e.g. when reconnecting gave up. */
  failQueued(err: (rec: { name: string }) => Error): void {
    for (const rec of [...this.calls.values()]) {
      if (rec.sentOn) continue;
      this.settle(
        rec,
        rec.resent
          ? new ClientError('CONNECTION_LOST', `${rec.name}: connection lost while in flight; the outcome is unknown`, {
              outcomeUnknown: true,
            })
          : err(rec),
      );
    }
  }

  private onSend(call: OutgoingCall): void {
    const seqid = call.header.seqid;
    const timeoutMs = this.nextTimeoutMs ?? this.callTimeoutMs;
    // Not the resume itself (priority): it runs before the session exists on the new connection.
    const withId = !this.priority && this.opts.inSession?.() === true;
    const rec: CallRecord = {
      seqid,
      name: call.header.name,
      service: call.service,
      framed: withId ? withRequestId(call.framed, call.header.protocol, this.nextRequestId()) : call.framed,
      timeoutMs,
      timer: setTimeout(() => this.timeout(seqid), timeoutMs),
      mayResend: withId,
      resent: false,
    };
    this.calls.set(seqid, rec);
    this.unsent++;
    if (this.closedReason)
      return this.settle(
        rec,
        new ClientError('CLOSED', `${rec.name}: connection is closed (${this.closedReason}); it was never sent`),
      );
    if (this.transport && (!this.held || this.priority)) return this.write(rec, this.transport);
    if (this.unsent > (this.opts.maxQueued ?? 1024)) {
      this.settle(
        rec,
        new ClientError(
          'BUSY',
          `${rec.name}: ${this.opts.maxQueued ?? 1024} calls already wait for a connection; it was not sent`,
        ),
      );
    }
  }

  private nextRequestId(): string {
    this.requestCount = (this.requestCount + 1) >>> 0;
    return this.requestStream + this.requestCount.toString(16).padStart(8, '0');
  }

  private write(rec: CallRecord, t: Transport): void {
    if (!t.send(rec.framed)) {
      const what = rec.resent ? 'not sent again; the outcome is unknown' : 'it was not sent';
      this.settle(
        rec,
        new ClientError('BUSY', `${rec.name}: the write buffer to ${t.endpoint} is full; ${what}`, {
          outcomeUnknown: rec.resent,
        }),
      );
      return;
    }
    rec.sentOn = t;
    this.unsent--;
  }

  private flushQueued(): void {
    const t = this.transport;
    if (!t) return;
    // Map iteration is insertion order = the order calls were made
    for (const rec of [...this.calls.values()])
      if (!rec.sentOn && this.calls.has(rec.seqid) && this.transport === t) this.write(rec, t);
  }

  private timeout(seqid: number): void {
    const rec = this.calls.get(seqid);
    if (!rec) return;
    const where = rec.sentOn
      ? `sent to ${rec.sentOn.endpoint}; the outcome is unknown`
      : rec.resent
        ? 'its connection was lost and it waits to be sent again; the outcome is unknown'
        : 'never sent: no connection to a broker';
    this.settle(
      rec,
      new ClientError('TIMEOUT', `${rec.name} got no reply within ${rec.timeoutMs} ms (${where})`, {
        outcomeUnknown: wasSent(rec),
      }),
    );
  }

  /** Removes a call and rejects it through its generated client. */
  private settle(rec: CallRecord, err: Error): void {
    clearTimeout(rec.timer);
    if (!this.calls.delete(rec.seqid)) return;
    if (!rec.sentOn) this.unsent--;
    this.channel.fail(rec.seqid, err, this.clients.get(rec.service));
    this.notifySettled();
  }

  private notifySettled(): void {
    for (const check of [...this.settledWaiters]) check();
  }

  private receive(bytes: Buffer): void {
    this.lastReceived = Date.now();
    let header: MessageHeader;
    try {
      header = peekHeader(bytes, 1024);
    } catch (err) {
      this.drop(`broker sent an invalid message: ${(err as Error).message}`);
      return;
    }
    if (header.type === MessageType.ONEWAY) return this.channel.receive(bytes);
    const rec = this.calls.get(header.seqid);
    // a late reply to a call that timed out, or to a seqid we never sent on this transport
    if (!rec || rec.sentOn !== this.transport) return;
    // Outcome unknown at the server: the service's reply cache, or the call's own idempotency key,
    // makes a second attempt with the same request id return the first outcome or apply once.
    if (rec.mayResend && !this.closedReason && replyOutcome(bytes) === 'TIMEOUT') {
      this.queueAgain(rec);
      if (this.transport && !this.held) this.write(rec, this.transport);
      return;
    }
    clearTimeout(rec.timer);
    this.calls.delete(rec.seqid);
    try {
      this.channel.receive(bytes);
      this.notifySettled();
    } catch (err) {
      this.channel.fail(
        rec.seqid,
        new ClientError('PROTOCOL', `${rec.name}: reply does not decode: ${(err as Error).message}`),
        this.clients.get(rec.service),
      );
      this.drop(`broker sent an undecodable reply to ${rec.name}`);
    }
  }

  /** Once per call, with the same bytes (so the same request id); it keeps its first deadline. */
  private queueAgain(rec: CallRecord): void {
    rec.mayResend = false;
    rec.resent = true;
    rec.sentOn = undefined;
    this.unsent++;
  }

  private detach(t: Transport, reason: string, notify = true): void {
    this.transport = undefined;
    for (const rec of [...this.calls.values()]) {
      if (rec.sentOn !== t) continue;
      if (rec.mayResend && !this.closedReason) {
        this.queueAgain(rec); // sent when the next transport is released
        continue;
      }
      this.settle(
        rec,
        new ClientError(
          'CONNECTION_LOST',
          `${rec.name}: connection to ${t.endpoint} lost (${reason}) while the call was in flight; the outcome is unknown`,
          { outcomeUnknown: true },
        ),
      );
    }
    if (notify) this.opts.onDrop?.(reason, t);
  }
}
