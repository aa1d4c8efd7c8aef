/**
 * One client connection as the broker sees it, whatever the transport: its session, bindings,
 * limits, and a bounded outbound queue. A client that does not read fast enough is cut off;
 * nobody else waits for it. "Not fast enough" is measured over time, because a burst fanned out
 * in one turn is legitimate: the queue may pass `outboundQueue` messages or `outboundBytes`
 * bytes for at most `outboundGraceMs`, and never 4x `outboundBytes` (the memory bound).
 */
import type { ThriftProtocol } from '../shared/thrift/header';
import { TokenBucket } from './token-bucket';
import { transcodeMessage } from './transcode';

export interface Wire {
  readonly transport: 'tcp' | 'ws';
  /** client address (for per-address limits) */
  readonly remote: string;
  /** queues one Thrift message; `done` runs once it left for the kernel (or the socket died) */
  write(message: Buffer, done: () => void): void;
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

export interface SessionInfo {
  sessionId: string;
  userId: string;
  username: string;
}

let connCounter = 0;

export class ClientConn {
  readonly id: string;
  session?: SessionInfo;
  /** role -> instance id for stateful services */
  readonly bindings = new Map<string, string>();
  /** protocol of the last call: pushes are written in it */
  protocol: ThriftProtocol = 'compact';
  inFlight = 0;
  strikes = 0;
  private refusedWindowStart = 0;
  private refusedInWindow = 0;
  readonly openedAt = Date.now();
  lastActivity = Date.now();
  messages = 0;
  closed = false;
  closeReason = '';
  readonly bucket: TokenBucket;
  private pendingWrites = 0;
  /** when the queue went over its soft limit (undefined while under it) */
  private overSince: number | undefined;

  constructor(readonly wire: Wire, private readonly limits: ConnLimits, private readonly onClose: (conn: ClientConn, reason: string) => void) {
    this.id = `c${++connCounter}`;
    this.bucket = new TokenBucket(limits.callsPerSecond, limits.callsPerSecond * 2, this.openedAt);
  }

  /** Queues one message; false (and the connection is cut off) if the client reads too slowly. */
  send(message: Buffer): boolean {
    if (this.closed) return false;
    const l = this.limits;
    const bytes = this.wire.bufferedBytes();
    if (bytes > 4 * l.outboundBytes) return this.cut(`more than ${4 * l.outboundBytes} bytes queued`);
    if (this.over(bytes)) {
      const now = Date.now();
      if (this.overSince === undefined) {
        this.overSince = now;
        // Re-checked when the grace ends, so a member is cut even if nothing more is sent to it.
        setTimeout(() => this.recheck(), l.outboundGraceMs + 1).unref();
      }
      if (now - this.overSince > l.outboundGraceMs) return this.cut(`over ${l.outboundQueue} messages or ${l.outboundBytes} bytes queued for ${now - this.overSince} ms`);
    } else {
      this.overSince = undefined;
    }
    this.pendingWrites++;
    this.wire.write(message, () => this.pendingWrites--);
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

  private over(bytes: number): boolean {
    return this.pendingWrites >= this.limits.outboundQueue || bytes > this.limits.outboundBytes;
  }

  private recheck(): void {
    if (this.closed || this.overSince === undefined) return;
    if (!this.over(this.wire.bufferedBytes())) {
      this.overSince = undefined;
      return;
    }
    const waited = Date.now() - this.overSince;
    if (waited > this.limits.outboundGraceMs) this.cut(`over ${this.limits.outboundQueue} messages or ${this.limits.outboundBytes} bytes queued for ${waited} ms`);
    else setTimeout(() => this.recheck(), this.limits.outboundGraceMs - waited + 1).unref();
  }

  private cut(why: string): false {
    this.close(`slow consumer: ${why}`);
    return false;
  }

  /** A push or room message (built in compact) in this client's protocol. */
  deliver(message: Buffer): boolean {
    return this.send(this.protocol === 'compact' ? message : transcodeMessage(message, this.protocol));
  }

  close(reason: string, flush = false): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    this.wire.close(reason, flush);
    this.onClose(this, reason);
  }
}
