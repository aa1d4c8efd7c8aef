/**
 * A connection's frames handled a few per event-loop turn, so one connection cannot hold the
 * loop for a whole read. One TCP read can carry hundreds of small frames (a 64 KiB read of 100-byte
 * calls), and handled as they come, every other connection's call, and every service reply
 * waiting on the ZeroMQ sockets, queued behind that read: under a flood of garbage, a good
 * client's p99 measured the flooders' reads, not its own call.
 *
 * `perTurn` frames are handled at once; the rest wait for the next turn (setImmediate, which runs
 * after the poll phase's I/O callbacks, so other connections and replies go first), `perTurn`
 * again, in order. While frames wait the socket is paused: the connection's backlog is at most
 * the one read it came in (the kernel's buffer and TCP flow control hold the rest, at the
 * sender's cost), and it reads again once the backlog is handled.
 */
export interface FrameTurnsOptions {
  perTurn: number;
  handle(frame: Buffer): void;
  /** stop reading from the socket / read again */
  pause(): void;
  resume(): void;
  /** the connection is gone: what waits is dropped */
  gone(): boolean;
}

export class FrameTurns {
  private waiting: Buffer[] = [];
  private next = 0;
  private scheduled = false;
  private paused = false;
  private readonly turn = (): void => {
    this.scheduled = false;
    this.run();
  };

  constructor(private readonly opts: FrameTurnsOptions) {}

  /** Frames still waiting for a turn. */
  get backlog(): number {
    return this.waiting.length - this.next;
  }

  push(frames: readonly Buffer[]): void {
    if (frames.length === 0) return;
    if (this.backlog === 0) {
      this.waiting = frames.slice();
      this.next = 0;
    } else for (const f of frames) this.waiting.push(f);
    // Frames behind a backlog wait for their turn; otherwise the first of them go at once.
    if (!this.scheduled) this.run();
  }

  private run(): void {
    const end = Math.min(this.waiting.length, this.next + this.opts.perTurn);
    while (this.next < end) {
      if (this.opts.gone()) {
        this.waiting = [];
        this.next = 0;
        return;
      }
      const frame = this.waiting[this.next] as Buffer;
      this.next++;
      this.opts.handle(frame);
    }
    if (this.backlog > 0) {
      if (!this.scheduled) {
        this.scheduled = true;
        if (!this.paused) {
          this.paused = true;
          this.opts.pause();
        }
        setImmediate(this.turn);
      }
      return;
    }
    this.waiting = [];
    this.next = 0;
    if (this.paused) {
      this.paused = false;
      this.opts.resume();
    }
  }
}
