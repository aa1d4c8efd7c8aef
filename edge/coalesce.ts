/**
 * Per-connection write coalescing: what a connection is sent within one event-loop turn (replies,
 * pushes, a room message fanned out to thousands) is gathered and leaves in one socket write at
 * the end of the turn, in the order it was queued. A room fan-out then costs each member an array
 * push instead of two stream writes with their callbacks; the one flush per turn for all
 * connections is scheduled once (not one tick per connection).
 */

export interface CoalescedSink {
  /** writes `bytes` (all of the turn's frames, in order); `written` runs once they left for the kernel */
  flush(bytes: Buffer, written: () => void): void;
}

/** Something to finish once the current turn's writes are queued. */
export interface EndOfTurn {
  flush(): void;
}

const dirty: EndOfTurn[] = [];
let scheduled = false;

function flushAll(): void {
  scheduled = false;
  // a flush can queue more (a write callback that writes): those wait for the next turn's flush
  const batch = dirty.splice(0, dirty.length);
  for (const c of batch) c.flush();
}

/** Runs `task.flush()` once the current turn's synchronous work and microtasks are done. */
export function atEndOfTurn(task: EndOfTurn): void {
  dirty.push(task);
  if (!scheduled) {
    scheduled = true;
    process.nextTick(flushAll);
  }
}

export class Coalescer {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private dones: Array<() => void> = [];
  private queued = false;

  constructor(private readonly sink: CoalescedSink) {}

  /** Bytes gathered this turn and not yet handed to the socket. */
  get pendingBytes(): number {
    return this.bytes;
  }

  /** Queues bytes; `done` (if any) runs once they left for the kernel (or the socket died). */
  add(bytes: Buffer, done?: () => void): void {
    this.chunks.push(bytes);
    this.bytes += bytes.length;
    if (done) this.dones.push(done);
    if (this.queued) return;
    this.queued = true;
    atEndOfTurn(this);
  }

  /** Writes what was gathered now (also before a flushing close, so nothing queued is lost). */
  flush(): void {
    this.queued = false;
    if (this.chunks.length === 0) return;
    const chunks = this.chunks;
    const dones = this.dones;
    const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, this.bytes);
    this.chunks = [];
    this.dones = [];
    this.bytes = 0;
    this.sink.flush(bytes, () => {
      for (const d of dones) d();
    });
  }

  /** Drops what was gathered (the socket is gone): every `done` still runs. */
  discard(): void {
    const dones = this.dones;
    this.chunks = [];
    this.dones = [];
    this.bytes = 0;
    for (const d of dones) d();
  }
}
