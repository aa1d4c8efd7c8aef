/**
 * Feeds one ZeroMQ socket from one bounded queue. zeromq.js allows a single send() in flight per
 * socket, so everything enqueued in one event-loop turn, or while a send is in flight, leaves
 * together in the next message to the same peer; a lone envelope leaves at the end of its turn
 * (setImmediate, no timer delay). When `maxQueued` envelopes wait, enqueue() returns false and
 * the caller answers BUSY.
 *
 * Why a turn and not a microtask: Node drains the microtask queue after every I/O callback, so
 * a process reading many client connections (or many ZeroMQ messages) in one poll phase would
 * flush once per callback, one ZeroMQ message per call. setImmediate runs once, in the check
 * phase right after that poll phase, when every callback of the turn has enqueued its envelopes.
 */
import { encodeBatch, MAX_BATCH, type Envelope } from './frames';

export interface SendFailure {
  error: Error;
  peer: Buffer | undefined;
  envelopes: Envelope[];
}

export interface SenderOptions {
  maxQueued: number;
  /** called for envelopes a send rejected (peer unreachable, send timeout, socket closed) */
  onFailure(f: SendFailure): void;
}

interface PeerQueue {
  peer: Buffer | undefined;
  envelopes: Envelope[];
}

export class BatchSender {
  private queues = new Map<string, PeerQueue>();
  private queued = 0;
  private pumping = false;
  private closed = false;
  private readonly pumpThisTurn = (): void => void this.pump();

  constructor(
    private readonly send: (frames: Buffer[]) => Promise<void>,
    private readonly opts: SenderOptions,
  ) {}

  get depth(): number {
    return this.queued;
  }

  /** Nothing queued and no send under way: every envelope enqueued was handed to the socket. */
  get idle(): boolean {
    return this.queued === 0 && !this.pumping;
  }

  /** `peer` is the routing identity for ROUTER sockets, undefined for DEALER/PUB. */
  enqueue(envelope: Envelope, peer?: Buffer): boolean {
    if (this.closed || this.queued >= this.opts.maxQueued) return false;
    const key = peer === undefined ? '' : peer.toString('latin1');
    let q = this.queues.get(key);
    if (!q) {
      q = { peer, envelopes: [] };
      this.queues.set(key, q);
    }
    q.envelopes.push(envelope);
    this.queued++;
    if (!this.pumping) {
      this.pumping = true;
      setImmediate(this.pumpThisTurn);
    }
    return true;
  }

  close(): void {
    this.closed = true;
  }

  /**
   * Sends one round: every peer's queue as it stands. What was enqueued while the round's sends
   * were in flight leaves in the next round, at the end of the turn the last send completed in,
   * so envelopes enqueued later in that turn still join it.
   */
  private async pump(): Promise<void> {
    let again = false;
    try {
      if (this.closed) return;
      const round = this.queues;
      this.queues = new Map();
      for (const q of round.values()) await this.sendPeer(q);
      again = this.queues.size > 0 && !this.closed;
    } finally {
      if (again) setImmediate(this.pumpThisTurn);
      else this.pumping = false;
    }
  }

  private async sendPeer(q: PeerQueue): Promise<void> {
    for (let i = 0; i < q.envelopes.length; i += MAX_BATCH) {
      const encoded = this.encode(q, q.envelopes.slice(i, i + MAX_BATCH));
      if (!encoded) continue;
      const { frames, part } = encoded;
      try {
        await this.send(q.peer === undefined ? frames : [q.peer, ...frames]);
      } catch (error) {
        this.opts.onFailure({ error: error as Error, peer: q.peer, envelopes: part });
      }
    }
  }

  /**
   * Takes `all` off the queue and encodes what can be. An envelope the codec refuses
   * (a string over its length limit, too many directives) goes to onFailure alone; the others
   * still leave.
   */
  private encode(q: PeerQueue, all: Envelope[]): { frames: Buffer[]; part: Envelope[] } | undefined {
    this.queued -= all.length;
    try {
      return { frames: encodeBatch(all), part: all };
    } catch {
      const part = all.filter((e) => {
        try {
          encodeBatch([e]);
          return true;
        } catch (error) {
          this.opts.onFailure({ error: error as Error, peer: q.peer, envelopes: [e] });
          return false;
        }
      });
      return part.length > 0 ? { frames: encodeBatch(part), part } : undefined;
    }
  }
}
