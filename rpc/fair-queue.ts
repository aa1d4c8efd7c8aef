/**
 * Requests read from one socket, handled round-robin over the peers that sent them, a few at a
 * time each, in slices of at most `sliceMs` between which the event loop runs.
 *
 * Why: one ZeroMQ message can carry thousands of requests (a sender coalesces everything it has),
 * and zeromq.js hands over a queued message without leaving the microtask queue. Handled as they
 * come, a peer flooding with calls that will be refused (a hot room's senders) keeps every other
 * peer's next message unread until its whole batch is through, and keeps database and Kv replies
 * waiting too: a quiet room's say would wait for the flood's backlog, not for its turn.
 *
 * Bounded: past `maxQueued` requests the reader waits (`room()`) and the socket's own queue holds
 * the rest, as before. Requests of one peer keep their order.
 */
import { performance } from 'node:perf_hooks';

export interface FairQueueOptions {
  /** longest run of handling (ms) before the event loop runs */
  sliceMs: number;
  /** requests of one peer handled before the next peer's turn */
  perTurn: number;
  /** requests waiting, over all peers, past which the reader waits */
  maxQueued: number;
  /** `handle` threw (it should answer its own errors); the others are still handled */
  onError(err: unknown): void;
}

interface PeerQueue<T> {
  items: T[];
  /** index of the next item to handle */
  next: number;
}

export class FairQueue<T> {
  /** peer -> its waiting requests; the Map's order is the round-robin order */
  private readonly peers = new Map<string, PeerQueue<T>>();
  private queued = 0;
  private running = false;
  private closed = false;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly handle: (item: T) => void,
    private readonly opts: FairQueueOptions,
  ) {}

  get depth(): number {
    return this.queued;
  }

  push(peer: string, items: readonly T[]): void {
    if (this.closed || items.length === 0) return;
    let q = this.peers.get(peer);
    if (!q) {
      q = { items: [], next: 0 };
      this.peers.set(peer, q);
    }
    for (const item of items) q.items.push(item);
    this.queued += items.length;
    if (!this.running) {
      this.running = true;
      // After the reader has taken what the socket already holds, so that every peer is in the round.
      setImmediate(() => void this.run());
    }
  }

  /** undefined while there is room; else resolves once the backlog is below maxQueued. */
  room(): Promise<void> | undefined {
    if (this.queued < this.opts.maxQueued || this.closed) return undefined;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Drops what waits (the sockets are closing) and lets a waiting reader go. */
  close(): void {
    this.closed = true;
    this.peers.clear();
    this.queued = 0;
    this.release();
  }

  private release(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private async run(): Promise<void> {
    let sliceStart = performance.now();
    try {
      while (this.queued > 0 && !this.closed) {
        for (const [peer, q] of this.peers) {
          const end = Math.min(q.items.length, q.next + this.opts.perTurn);
          while (q.next < end) {
            const item = q.items[q.next] as T;
            q.next++;
            this.queued--;
            try {
              this.handle(item);
            } catch (err) {
              this.opts.onError(err);
            }
          }
          if (q.next >= q.items.length) this.peers.delete(peer);
          else if (q.next > 1024) {
            // keep a long queue's array from growing without bound at its head
            q.items = q.items.slice(q.next);
            q.next = 0;
          }
          if (this.queued < this.opts.maxQueued && this.waiters.length > 0) this.release();
          if (performance.now() - sliceStart >= this.opts.sliceMs) {
            await new Promise<void>((resolve) => setImmediate(resolve));
            sliceStart = performance.now();
            if (this.closed) return;
          }
        }
      }
    } finally {
      this.running = false;
      // a push during the last await found `running` set: its items are picked up here
      if (this.queued > 0 && !this.closed) {
        this.running = true;
        setImmediate(() => void this.run());
      }
      this.release();
    }
  }
}
