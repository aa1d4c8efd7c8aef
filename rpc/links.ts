/**
 * Request/reply links to service instances: one DEALER per instance (identity = our instance id,
 * so the instance can push back to us on the same socket), each fed by a bounded BatchSender.
 * Every pending request has a deadline. A request whose send fails is rejected as NotDelivered
 * (it provably never left: safe to retry anywhere). One whose instance goes down or disconnects
 * after it was sent is rejected as MaybeDelivered: the instance may have run it (a stopped process
 * runs what sits in its socket when it resumes), so only a keyed (idempotent) call may be retried
 * and any other outcome is unknown. An instance that deregistered (a drain) is retired instead:
 * its link stays until the requests already sent to it are answered. With keys, every request
 * carries our key's proof for the instance's key (shared/caller-proof.ts): the instance learns our
 * role from it.
 */
import * as zmq from 'zeromq';
import { CallerProofs } from '../shared/caller-proof';
import { curveClientOptions, type CurveKeys } from '../shared/curve';
import { NoonError } from '../shared/errors';
import type { Logger } from '../shared/log';
import {
  decodeBatch,
  type Envelope,
  type PushEnvelope,
  type ReplyEnvelope,
  type RequestEnvelope,
} from '../shared/wire/frames';
import { BatchSender } from '../shared/wire/sender';

export interface LinkTarget {
  instanceId: string;
  router: string;
  /** with CURVE: the instance's public key (from its registration), pinned as the server key */
  serverKey?: string;
}

export type OutgoingRequest = Omit<RequestEnvelope, 'kind' | 'requestId'>;

/** An UNAVAILABLE whose request never reached the instance: safe to retry anywhere. */
export class NotDelivered extends NoonError {
  constructor(message: string) {
    super('UNAVAILABLE', message, true);
  }
}

/**
 * An UNAVAILABLE whose request had left for the instance before it went away: it may have run,
 * or may still run (a SIGSTOPped process resumes and handles what waits in its socket). A caller
 * may retry it only where a key dedupes it; otherwise its outcome is unknown, never "failed".
 */
export class MaybeDelivered extends NoonError {
  constructor(message: string) {
    super('UNAVAILABLE', message, true);
  }
}

/** Whether an attempt that failed with `err` may have been applied by the instance. */
export const mayHaveRun = (err: unknown): boolean =>
  err instanceof MaybeDelivered || (err instanceof NoonError && err.code === 'TIMEOUT');

interface Pending {
  resolve(reply: ReplyEnvelope): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  instanceId: string;
}

interface Link {
  target: LinkTarget;
  socket: zmq.Dealer;
  sender: BatchSender;
  inFlight: number;
  /** our proof for this instance's key; none without keys */
  caller?: RequestEnvelope['caller'];
  /** deregistered: closed once the requests sent to it are settled */
  retiring?: string;
}

export interface LinksOptions {
  /** our routing identity at every instance */
  identity: string;
  logger: Logger;
  maxQueued: number;
  maxPayload: number;
  /** how long a send may wait for a connected peer before the request is failed (ms) */
  sendTimeoutMs?: number;
  curve?: CurveKeys;
  /** how long an instance whose connection dropped is avoided (ms); default 3000 */
  suspectMs?: number;
  onPush?(push: PushEnvelope, from: string): void;
}

export class Links {
  private readonly links = new Map<string, Link>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly suspects = new Map<string, number>();
  private readonly suspectMs: number;
  private readonly proofs?: CallerProofs;

  constructor(private readonly opts: LinksOptions) {
    this.suspectMs = opts.suspectMs ?? 3000;
    if (opts.curve) this.proofs = new CallerProofs(opts.curve);
  }

  /** True for a while after the instance's connection dropped (callers pick another). */
  isSuspect(instanceId: string): boolean {
    const until = this.suspects.get(instanceId);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.suspects.delete(instanceId);
    return false;
  }

  inFlight(instanceId: string): number {
    return this.links.get(instanceId)?.inFlight ?? 0;
  }

  get totalInFlight(): number {
    return this.pending.size;
  }

  /** Sends one request; resolves with the reply or rejects with a NoonError. */
  request(target: LinkTarget, req: OutgoingRequest): Promise<ReplyEnvelope> {
    const link = this.link(target);
    const requestId = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    const started = Date.now();
    return new Promise<ReplyEnvelope>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.settle(requestId)?.reject(
            new NoonError(
              'TIMEOUT',
              `${req.method} on instance ${target.instanceId} gave no answer in ${Date.now() - started} ms`,
            ),
          );
        },
        Math.max(1, req.timeoutMs),
      );
      this.pending.set(requestId, { resolve, reject, timer, instanceId: target.instanceId });
      link.inFlight++;
      const caller = link.caller ? { caller: link.caller } : {};
      if (!link.sender.enqueue({ kind: 'request', requestId, ...req, ...caller })) {
        this.settle(requestId)?.reject(new NoonError('BUSY', `send queue to ${target.instanceId} is full`));
      }
    });
  }

  /**
   * Connects ahead of any request, so the instance can push to us (brokers connect to every
   * service instance they learn of).
   */
  connect(target: LinkTarget): void {
    // listed again (a stopped process that re-registered): it takes work again, so it stays
    delete this.link(target).retiring;
  }

  /**
   * The instance is gone (declared down, disconnected): fail everything pending on it and drop
   * the link. Those requests had been handed to the socket, so they may have run.
   */
  drop(instanceId: string, why: string): void {
    const link = this.links.get(instanceId);
    if (!link) return;
    this.links.delete(instanceId);
    link.sender.close();
    link.socket.close();
    for (const [id, p] of this.pending) {
      if (p.instanceId === instanceId)
        this.settle(id)?.reject(
          new MaybeDelivered(`instance ${instanceId} ${why} with the call in flight: it may have run`),
        );
    }
  }

  /**
   * The instance deregistered (it drains: it answers what it was sent, then exits). Nothing new
   * is routed to it; the link stays until its pending requests are answered or reach their
   * deadline, so their replies are not thrown away. A disconnect meanwhile drops it as usual.
   */
  retire(instanceId: string, why: string): void {
    const link = this.links.get(instanceId);
    if (!link) return;
    if (link.inFlight <= 0) return this.drop(instanceId, why);
    link.retiring = why;
  }

  close(): void {
    for (const id of [...this.links.keys()]) this.drop(id, 'closed');
  }

  /** Requests waiting in the send queues of every link. */
  get queued(): number {
    let n = 0;
    for (const l of this.links.values()) n += l.sender.depth;
    return n;
  }

  private settle(requestId: number): Pending | undefined {
    const p = this.pending.get(requestId);
    if (!p) return undefined;
    this.pending.delete(requestId);
    clearTimeout(p.timer);
    const link = this.links.get(p.instanceId);
    if (link) {
      link.inFlight--;
      // a retired link closes with its last answer (after this settle's resolve, in a later turn)
      if (link.retiring !== undefined && link.inFlight <= 0) {
        const why = link.retiring;
        setImmediate(() => {
          if (this.links.get(p.instanceId) === link) this.drop(p.instanceId, why);
        });
      }
    }
    return p;
  }

  private link(target: LinkTarget): Link {
    const existing = this.links.get(target.instanceId);
    if (existing && existing.target.router === target.router && existing.target.serverKey === target.serverKey)
      return existing;
    if (existing) this.drop(target.instanceId, 'moved to a new endpoint');
    const socket = new zmq.Dealer({
      routingId: this.opts.identity,
      immediate: true,
      linger: 0,
      sendHighWaterMark: 10_000,
      receiveHighWaterMark: 10_000,
      sendTimeout: this.opts.sendTimeoutMs ?? 1000,
      maxMessageSize: 64 * 1024 * 1024,
      heartbeatInterval: 1000,
      heartbeatTimeout: 3000,
      ...curveClientOptions(this.opts.curve, target.serverKey),
    });
    socket.connect(target.router);
    // A killed peer resets the TCP connection: fail its calls now instead of at their deadline,
    // and keep new calls away from it until Yellow confirms (or it reconnects).
    socket.events.on('disconnect', () => {
      this.suspects.set(target.instanceId, Date.now() + this.suspectMs);
      this.drop(target.instanceId, 'disconnected');
    });
    const sender = new BatchSender((frames) => socket.send(frames), {
      maxQueued: this.opts.maxQueued,
      onFailure: ({ error, envelopes }) => this.failUndelivered(envelopes, target.instanceId, error),
    });
    const link: Link = { target, socket, sender, inFlight: 0 };
    if (this.proofs && target.serverKey) link.caller = this.proofs.for(target.serverKey);
    this.links.set(target.instanceId, link);
    void this.receive(link);
    return link;
  }

  private failUndelivered(envelopes: Envelope[], instanceId: string, error: Error): void {
    for (const e of envelopes) {
      if (e.kind === 'request')
        this.settle(e.requestId)?.reject(
          new NotDelivered(`could not send to instance ${instanceId}: ${error.message}`),
        );
    }
  }

  private async receive(link: Link): Promise<void> {
    try {
      for await (const frames of link.socket) this.dispatch(frames, link.target.instanceId);
    } catch (err) {
      if (!link.socket.closed)
        this.opts.logger.warn({ err, instance: link.target.instanceId }, 'link receive loop ended');
    }
  }

  private dispatch(frames: Buffer[], from: string): void {
    let envelopes: Envelope[];
    try {
      envelopes = decodeBatch(frames, this.opts.maxPayload);
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message, from }, 'dropped malformed message from instance');
      return;
    }
    for (const e of envelopes) {
      if (e.kind === 'reply') this.settle(e.requestId)?.resolve(e);
      else if (e.kind === 'push') this.opts.onPush?.(e, from);
    }
  }
}
