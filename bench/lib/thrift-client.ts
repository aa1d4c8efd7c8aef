/**
 * A byte-level framed-TCP client for closed-loop loads: each slot owns one pre-encoded Thrift
 * call whose seqid is the slot number + 1 (a slot has at most one call in flight), and a reply is
 * matched by the seqid in its header (peekHeader only; no body decode). Against the broker a
 * reply of type EXCEPTION fails the call; against the echo relay the call comes back as is.
 */
import type { Socket } from 'node:net';
import * as thrift from 'thrift';
import { Leaderboard } from '../../shared/protocol';
import { MessageType, peekHeader } from '../../shared/thrift/header';
import { buildMessage } from '../../shared/thrift/messages';
import { connectTcp, corkedWriter, readFrames } from './framed';

/** `Leaderboard:top('bench', 1)` in compact protocol with the given seqid. */
export function topCall(seqid: number): Buffer {
  return buildMessage('compact', (out) => {
    out.writeMessageBegin('Leaderboard:top', thrift.Thrift.MessageType.CALL, seqid);
    new Leaderboard.TopArgs({ board: 'bench', count: 1 }).write(out);
    out.writeMessageEnd();
  });
}

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

export class SlotClient {
  private readonly calls: Buffer[];
  private readonly waiters: (Waiter | undefined)[];
  private readonly writers: ((m: Buffer) => void)[] = [];

  private constructor(
    private readonly sockets: Socket[],
    slots: number,
  ) {
    this.calls = Array.from({ length: slots }, (_, i) => topCall(i + 1));
    this.waiters = new Array<Waiter | undefined>(slots);
    for (const s of sockets) {
      this.writers.push(corkedWriter(s));
      readFrames(s, 4 << 20, (f) => this.onFrame(f));
      s.on('close', () => this.failAll(new Error('connection closed')));
    }
  }

  /** `connections` sockets to `endpoint`; slot i uses connection i % connections. */
  static async open(endpoint: string, connections: number, slots: number): Promise<SlotClient> {
    const sockets = await Promise.all(Array.from({ length: connections }, () => connectTcp(endpoint)));
    return new SlotClient(sockets, slots);
  }

  call(slot: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiters[slot] = { resolve, reject };
      (this.writers[slot % this.writers.length] as (m: Buffer) => void)(this.calls[slot] as Buffer);
    });
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
  }

  private onFrame(frame: Buffer): void {
    const h = peekHeader(frame, 256);
    const w = this.waiters[h.seqid - 1];
    if (!w) return;
    this.waiters[h.seqid - 1] = undefined;
    if (h.type === MessageType.EXCEPTION) w.reject(new Error(`${h.name}: exception reply`));
    else w.resolve();
  }

  private failAll(err: Error): void {
    for (let i = 0; i < this.waiters.length; i++) {
      this.waiters[i]?.reject(err);
      this.waiters[i] = undefined;
    }
  }
}
