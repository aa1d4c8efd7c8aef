/**
 * A client's connection to one Yellow: one DEALER, one bounded send queue, one table of pending
 * requests. Requests with the same key (op plus whatever distinguishes it) share one outstanding
 * request, so a Yellow that is down never accumulates more than one request per key; every request
 * has a deadline. The DEALER reconnects by itself when the Yellow comes back.
 */
import * as zmq from 'zeromq';
import { curveClientOptions, yellowKeyOf, type CurveKeys } from '../shared/curve';
import { NoonError } from '../shared/errors';
import type { Logger } from '../shared/log';
import { Outbox } from './outbox';
import {
  decodeReply,
  encodeRequest,
  MAX_REPLY_BYTES,
  parseBody,
  type Op,
  type ReplyBodies,
  type Rid,
  type YellowRequest,
} from './wire';

/** A request without its rid; the link assigns one. */
export type RequestOf<O extends Op> = Omit<Extract<YellowRequest, { op: O }>, 'rid'>;

interface Pending {
  rid: Rid;
  key: string;
  op: Op;
  promise: Promise<unknown>;
  resolve: (body: Record<string, unknown>) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Messages the DEALER may hold while the Yellow is unreachable; stale heartbeats are harmless. */
const SEND_HWM = 64;

/** Keys with the Yellow key already chosen: what a heartbeat thread gets (a keyring does not cross threads). */
export interface PinnedCurve {
  publicKey: string;
  secretKey: string;
  serverKey: string;
}

export class YellowLink {
  private readonly dealer: zmq.Dealer;
  private readonly outbox: Outbox;
  private readonly pending = new Map<Rid, Pending>();
  private readonly byKey = new Map<string, Pending>();
  private nextRid = 1;
  private loop?: Promise<void>;
  /** bytes of every reply received */
  bytesReceived = 0;

  constructor(
    readonly endpoint: string,
    private readonly logger: Logger,
    curve?: CurveKeys | PinnedCurve,
  ) {
    const pinned = curve && 'serverKey' in curve ? curve : undefined;
    const keys = curve && !('serverKey' in curve) ? curve : undefined;
    // sendTimeout 0: when the queue to a dead Yellow is full, sending fails at once instead of
    // blocking the outbox; the request's deadline reports it.
    this.dealer = new zmq.Dealer({
      linger: 0,
      sendHighWaterMark: SEND_HWM,
      receiveHighWaterMark: 1000,
      sendTimeout: 0,
      maxMessageSize: MAX_REPLY_BYTES,
      reconnectInterval: 100,
      reconnectMaxInterval: 2000,
      ...(pinned
        ? { curveServerKey: pinned.serverKey, curvePublicKey: pinned.publicKey, curveSecretKey: pinned.secretKey }
        : curveClientOptions(keys, keys ? yellowKeyOf(keys) : undefined)),
    });
    this.outbox = new Outbox(this.dealer, SEND_HWM, logger, `yellow-link ${endpoint}`);
  }

  start(): void {
    this.dealer.connect(this.endpoint);
    this.loop = this.receiveLoop();
  }

  async stop(): Promise<void> {
    this.outbox.close();
    for (const p of [...this.pending.values()])
      this.settle(p, new NoonError('UNAVAILABLE', `Yellow link to ${this.endpoint} closed`));
    if (!this.dealer.closed) this.dealer.close();
    await this.loop;
  }

  /** True when a request with this key is outstanding. */
  busy(key: string): boolean {
    return this.byKey.has(key);
  }

  /**
   * Sends a request unless one with the same key is outstanding, in which case the caller shares
   * its answer. Rejects with NoonError TIMEOUT after timeoutMs, or with the Yellow's error.
   */
  request<O extends Op>(req: RequestOf<O>, timeoutMs: number, key: string = req.op): Promise<ReplyBodies[O]> {
    const op = req.op as O;
    const existing = this.byKey.get(key);
    if (existing) return existing.promise as Promise<ReplyBodies[O]>;
    const rid = this.nextRid++;
    let resolve!: (body: Record<string, unknown>) => void;
    let reject!: (err: Error) => void;
    const raw = new Promise<Record<string, unknown>>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const started = Date.now();
    const timer = setTimeout(() => {
      const p = this.pending.get(rid);
      if (p)
        this.settle(
          p,
          new NoonError('TIMEOUT', `Yellow ${op} to ${this.endpoint} got no reply within ${Date.now() - started} ms`),
        );
    }, timeoutMs);
    const promise = raw.then((body) => parseBody(op, body));
    const entry: Pending = { rid, key, op, promise, resolve, reject, timer };
    this.pending.set(rid, entry);
    this.byKey.set(key, entry);
    if (!this.outbox.push(encodeRequest({ ...req, rid } as YellowRequest))) {
      this.settle(entry, new NoonError('BUSY', `send queue to Yellow ${this.endpoint} is full`));
    }
    return promise;
  }

  private settle(p: Pending, result: Error | Record<string, unknown>): void {
    clearTimeout(p.timer);
    this.pending.delete(p.rid);
    if (this.byKey.get(p.key) === p) this.byKey.delete(p.key);
    if (result instanceof Error) p.reject(result);
    else p.resolve(result);
  }

  private async receiveLoop(): Promise<void> {
    while (!this.dealer.closed) {
      let frames: Buffer[];
      try {
        frames = await this.dealer.receive();
      } catch (e) {
        if (this.dealer.closed) return;
        this.logger.warn({ err: e, yellow: this.endpoint }, 'yellow link receive failed');
        continue;
      }
      for (const f of frames) this.bytesReceived += f.length;
      this.onReply(frames);
    }
  }

  private onReply(frames: Buffer[]): void {
    const decoded = decodeReply(frames);
    if (!decoded.ok) {
      this.logger.warn({ reason: decoded.reason, yellow: this.endpoint }, 'malformed reply from yellow');
      return;
    }
    const reply = decoded.value;
    const p = this.pending.get(reply.rid);
    // A reply after its deadline is expected when the Yellow was slow; nothing waits for it.
    if (!p) return;
    if (reply.ok) this.settle(p, reply.body);
    else this.settle(p, NoonError.fromJSON(reply.error));
  }
}
