/**
 * A dispatcher's bookkeeping: which jobs it claimed and sent to which worker and that have not
 * finished yet, so it never has more than its window out at once, sends each job to the worker
 * with the fewest of its jobs, and knows which jobs to put back when a worker leaves. Nothing
 * acknowledges a job to its dispatcher (the worker's commit is the acknowledgement), so the book
 * is brought in line with the outbox each pass: what the database no longer shows as running
 * under this dispatcher is finished (done, failed, dead, or taken over).
 */
interface Sent {
  at: number;
  worker: string;
}

export class DispatchBook {
  private readonly out = new Map<string, Sent>();

  constructor(private readonly window: number) {
    if (!Number.isInteger(window) || window < 1) throw new RangeError(`window must be an integer ≥ 1, got ${window}`);
  }

  get outstanding(): number {
    return this.out.size;
  }

  /** How many more jobs may be claimed now. */
  room(): number {
    return Math.max(0, this.window - this.out.size);
  }

  /** Of `workers`, the one with the fewest outstanding jobs (ties: the first listed); undefined for none. */
  pick(workers: readonly string[], skip: ReadonlySet<string> = new Set()): string | undefined {
    let best: string | undefined;
    let bestLoad = Infinity;
    for (const w of workers) {
      if (skip.has(w)) continue;
      const load = this.loadOf(w);
      if (load < bestLoad) {
        best = w;
        bestLoad = load;
      }
    }
    return best;
  }

  loadOf(worker: string): number {
    let n = 0;
    for (const s of this.out.values()) if (s.worker === worker) n++;
    return n;
  }

  sent(id: string, worker: string, now: number): void {
    this.out.set(id, { at: now, worker });
  }

  /** The outstanding jobs sent to `worker` (it left: they may be lost with it); forgets them. */
  takeWorker(worker: string): string[] {
    const ids: string[] = [];
    for (const [id, s] of this.out)
      if (s.worker === worker) {
        ids.push(id);
        this.out.delete(id);
      }
    return ids;
  }

  /**
   * Keeps only what the outbox still shows running under this dispatcher; returns how many
   * finished since the last pass.
   */
  reconcile(stillRunning: Iterable<string>): number {
    const running = new Set(stillRunning);
    let finished = 0;
    for (const id of [...this.out.keys()])
      if (!running.has(id)) {
        this.out.delete(id);
        finished++;
      }
    return finished;
  }

  /** Jobs sent longer than `ms` ago and not finished: their worker is slow, or the message was lost. */
  overdue(now: number, ms: number): string[] {
    const late: string[] = [];
    for (const [id, s] of this.out) if (now - s.at > ms) late.push(id);
    return late;
  }
}
