/**
 * One client connection as the broker sees it, whatever the transport: its session, bindings,
 * limits, and a bounded outbound queue. A client that does not read fast enough is cut off;
 * nobody else waits for it. "Not fast enough" is measured over time, because a burst fanned out
 * in one turn is legitimate: the queue may pass `outboundQueue` messages or `outboundBytes`
 * bytes for at most `outboundGraceMs`, and never 4x `outboundBytes` (the memory bound).
 */
import type { ThriftProtocol } from '../shared/thrift/header';
import { judgeOutbound } from './slow-reader';
import type { ThriftJsonCodec } from './thrift-json';
import { TokenBucket } from './token-bucket';
import { SharedPush } from './shared-push';

export interface Wire {
  readonly transport: 'tcp' | 'ws' | 'tls' | 'wss';
  /** client address (for per-address limits) */
  readonly remote: string;
  /** the client speaks Thrift's JSON protocol (messages are JSON text both ways) */
  readonly json?: boolean;
  /** queues one Thrift message; `done` runs once it left for the kernel (or the socket died) */
  write(message: Buffer, done: () => void): void;
  /** queues a push shared with other connections, in `protocol` (its bytes are made once for all) */
  writeShared?(push: SharedPush, protocol: ThriftProtocol, done: () => void): void;
  bufferedBytes(): number;
  /** `flush`: send what is queued first (a last message the client must see), else drop it */
  close(reason: string, flush?: boolean): void;
}

export interface ConnLimits {
  outboundQueue: number;
  outboundBytes: number;
  outboundGraceMs: number;
  callsPerSecond: number;
}

let connCounter = 0;

/**
 * Its state changes only through its methods: the gateway reports what it saw (a message, a
 * call started or ended, the protocol used), the broker whether it is logged in. Who the
 * connection is logged in as, and its bindings, are the broker's (broker/connection.ts).
 */
export class ClientConn {
  readonly id: string;
  readonly openedAt = Date.now();
  private protocolValue: ThriftProtocol = 'compact';
  private inFlightCount = 0;
  private authenticatedValue = false;
  private refusedWindowStart = 0;
  private refusedInWindow = 0;
  private lastActivityAt = this.openedAt;
  private messageCount = 0;
  private closedValue = false;
  private closeReasonValue = '';
  private readonly bucket: TokenBucket;
  private pendingWrites = 0;
  /** when the queue went over its soft limit (undefined while under it) */
  private overSince: number | undefined;
  /** one callback for every write (not a closure per message) */
  private readonly written = (): void => {
    this.pendingWrites--;
  };

  constructor(
    private readonly wire: Wire,
    private readonly limits: ConnLimits,
    private readonly onClose: (conn: ClientConn, reason: string) => void,
    /** for a JSON client: its calls are read, and everything it is sent is written, in JSON */
    readonly json?: ThriftJsonCodec,
  ) {
    this.id = `c${++connCounter}`;
    this.bucket = new TokenBucket(limits.callsPerSecond, limits.callsPerSecond * 2, this.openedAt);
  }

  get transport(): Wire['transport'] {
    return this.wire.transport;
  }

  /** client address (for per-address limits) */
  get remote(): string {
    return this.wire.remote;
  }

  /** protocol of the last call: pushes are written in it */
  get protocol(): ThriftProtocol {
    return this.protocolValue;
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  /** the login deadline stops applying once this is true */
  get authenticated(): boolean {
    return this.authenticatedValue;
  }

  get lastActivity(): number {
    return this.lastActivityAt;
  }

  /** messages received so far (0: the handshake deadline still applies) */
  get messages(): number {
    return this.messageCount;
  }

  get closed(): boolean {
    return this.closedValue;
  }

  get closeReason(): string {
    return this.closeReasonValue;
  }

  /** One message arrived at `now`, in `protocol` (later pushes are written in it). */
  received(now: number, protocol?: ThriftProtocol): void {
    this.lastActivityAt = now;
    this.messageCount++;
    if (protocol) this.protocolValue = protocol;
  }

  /** Written in `protocol` from now on (the protocol of the latest call). */
  useProtocol(protocol: ThriftProtocol): void {
    this.protocolValue = protocol;
  }

  /** Takes one call from the rate limit; false when the connection is over its rate. */
  takeCallToken(now: number): boolean {
    return this.bucket.take(now);
  }

  callStarted(): void {
    this.inFlightCount++;
  }

  callFinished(): void {
    this.inFlightCount--;
  }

  setAuthenticated(on: boolean): void {
    this.authenticatedValue = on;
  }

  /** Queues one message; false (and the connection is cut off) if the client reads too slowly. */
  send(message: Buffer): boolean {
    if (this.closed) return false;
    if (!this.judge(Date.now())) return false;
    const out = this.json ? this.json.toClient(message) : message;
    // a push that does not translate is dropped, not the connection (a reply always translates, maybe into an error)
    if (out === undefined) return true;
    this.pendingWrites++;
    this.wire.write(out, this.written);
    return true;
  }

  /** Counts one call refused by the rate limit; returns the refusals in the current 1 s window. */
  refuse(now: number): number {
    if (now - this.refusedWindowStart >= 1000) {
      this.refusedWindowStart = now;
      this.refusedInWindow = 0;
    }
    return ++this.refusedInWindow;
  }

  /** Applies the slow-reader rule; false when it cut the connection off. */
  private judge(now: number): boolean {
    const wasOver = this.overSince !== undefined;
    const v = judgeOutbound(this.pendingWrites, this.wire.bufferedBytes(), this.overSince, now, this.limits);
    this.overSince = v.overSince;
    if (v.cut !== undefined) return this.cut(v.cut);
    // Re-checked when the grace ends, so a member is cut even if nothing more is sent to it.
    if (!wasOver && v.overSince !== undefined) this.recheckAt(v.overSince + this.limits.outboundGraceMs + 1 - now);
    return true;
  }

  private recheckAt(delayMs: number): void {
    setTimeout(
      () => {
        if (this.closed || this.overSince === undefined) return;
        const now = Date.now();
        if (this.judge(now) && this.overSince !== undefined)
          this.recheckAt(this.overSince + this.limits.outboundGraceMs + 1 - now);
      },
      Math.max(1, delayMs),
    ).unref();
  }

  private cut(why: string): false {
    this.close(`slow consumer: ${why}`);
    return false;
  }

  /**
   * A push or room message (built in compact) in this client's protocol; false if the client was
   * cut off. A SharedPush is encoded once for all the connections it goes to; `now` lets a
   * fan-out read the clock once for all its members.
   */
  deliver(message: Buffer | SharedPush, now = Date.now()): boolean {
    if (this.closedValue) return false;
    if (!this.judge(now)) return false;
    const push = message instanceof SharedPush ? message : new SharedPush(message);
    if (this.json) {
      const out = this.json.pushToClient(push);
      // a push that does not translate is dropped, not the connection
      if (out === undefined) return true;
      this.pendingWrites++;
      this.wire.write(out, this.written);
      return true;
    }
    this.pendingWrites++;
    if (this.wire.writeShared) this.wire.writeShared(push, this.protocolValue, this.written);
    else this.wire.write(push.bytes(this.protocolValue), this.written);
    return true;
  }

  close(reason: string, flush = false): void {
    if (this.closedValue) return;
    this.closedValue = true;
    this.closeReasonValue = reason;
    this.wire.close(reason, flush);
    this.onClose(this, reason);
  }
}
