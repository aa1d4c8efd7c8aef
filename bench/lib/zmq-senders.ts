/**
 * Senders for the raw ZeroMQ baselines. zeromq.js allows one send() in flight per socket, so
 * both feed a socket from one queue:
 *  - `coalescing`: everything queued while a send is in flight leaves in the next message to the
 *    same peer, frames appended (the idea of shared/wire/sender.ts, without its codec or bounds);
 *  - `turn`: as `coalescing`, but the first send waits for the end of the event-loop turn
 *    (setImmediate), so what every callback of the turn queued leaves together, as
 *    shared/wire/sender.ts does now;
 *  - `plain`: one ZeroMQ message per queued message, sent one after the other.
 * For a ROUTER the peer's routing id is the first frame of each message sent.
 */
import type * as zmq from 'zeromq';

export type SendMode = 'coalescing' | 'turn' | 'plain';

/** BENCH_SEND_MODE as a SendMode; anything unknown is `coalescing`. */
export function sendModeOf(value: string | undefined): SendMode {
  return value === 'plain' || value === 'turn' ? value : 'coalescing';
}

interface PeerQueue {
  peer: Buffer | undefined;
  /** coalescing: frames to append; plain: whole messages */
  items: Buffer[][];
}

export class RawSender {
  private queues = new Map<string, PeerQueue>();
  private pumping = false;
  private closed = false;
  failures = 0;

  constructor(
    private readonly socket: zmq.Writable & zmq.Socket,
    private readonly mode: SendMode,
  ) {}

  /** Queues `frames` for `peer` (ROUTER) or for the one peer (DEALER, peer undefined). */
  send(frames: Buffer[], peer?: Buffer): void {
    const key = peer === undefined ? '' : peer.toString('latin1');
    let q = this.queues.get(key);
    if (!q) {
      q = { peer, items: [] };
      this.queues.set(key, q);
    }
    q.items.push(frames);
    if (this.pumping) return;
    if (this.mode === 'turn') {
      this.pumping = true;
      setImmediate(() => void this.pump());
    } else void this.pump();
  }

  close(): void {
    this.closed = true;
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queues.size > 0 && !this.closed) {
        const batch = this.queues;
        this.queues = new Map();
        for (const q of batch.values()) {
          const head = q.peer === undefined ? [] : [q.peer];
          if (this.mode !== 'plain') await this.write([...head, ...q.items.flat()]);
          else for (const m of q.items) await this.write([...head, ...m]);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private async write(frames: Buffer[]): Promise<void> {
    try {
      await this.socket.send(frames);
    } catch {
      this.failures++;
    }
  }
}
