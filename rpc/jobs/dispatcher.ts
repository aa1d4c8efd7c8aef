/**
 * Moves jobs from the outbox to the workers. Every worker runs one: each pass it claims due jobs
 * (FOR UPDATE SKIP LOCKED, with a lease, so dispatchers never claim the same job at once) up to
 * its window, and PUSHes each to the live worker holding the fewest of its jobs, one PUSH socket
 * per worker's PULL. Delivery is at least once: a job whose message or worker is lost stays
 * claimed until its lease ends — or at once, when Yellow reports its worker gone — and is claimed
 * and sent again; the worker's transaction (runDelivery) makes the repeat harmless.
 */
import * as zmq from 'zeromq';
import { curveClientOptions, type CurveKeys } from '../../shared/curve';
import { claimRows, releaseIdle, runningOf, unclaim, WORKER_CONSUMER } from '../../shared/data/outbox';
import type { Db } from '../../shared/data/sql';
import { DispatchBook } from '../../shared/jobs/dispatch-book';
import type { Logger } from '../../shared/log';
import { encodeJob } from '../../shared/wire/job-frames';
import type { Directory } from '../../yellow/directory';
import type { InstanceRecord } from '../../yellow/types';

export interface DispatcherOptions {
  db: Db;
  instanceId: string;
  /** the job kinds this cluster's workers run */
  kinds: readonly string[];
  directory: Directory;
  /** this worker's own PULL, dispatched to before Yellow lists it */
  self: { instanceId: string; pull: string; curveKey?: string };
  pollMs: number;
  leaseMs: number;
  /** jobs out at once from this dispatcher */
  window: number;
  logger: Logger;
  curve?: CurveKeys;
}

interface Peer {
  endpoint: string;
  socket: zmq.Push;
}

export class JobDispatcher {
  private readonly book: DispatchBook;
  private readonly peers = new Map<string, Peer>();
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private again = false;
  private failing = false;
  private stopped = false;
  private readonly onUp = (r: InstanceRecord): void => this.connect(r);
  private readonly onChange = (r: InstanceRecord): void => this.connect(r);
  private readonly onDown = ({ instanceId }: { instanceId: string }): void => this.lost(instanceId);

  constructor(private readonly opts: DispatcherOptions) {
    this.book = new DispatchBook(opts.window);
  }

  start(): void {
    this.connect({
      instanceId: this.opts.self.instanceId,
      endpoints: { pull: this.opts.self.pull },
      curveKey: this.opts.self.curveKey,
    });
    for (const r of this.opts.directory.instances({ role: 'worker' })) this.connect(r);
    this.opts.directory.on('up', this.onUp).on('change', this.onChange).on('down', this.onDown);
    this.timer = setInterval(() => this.kick(), this.opts.pollMs);
    this.kick();
  }

  /** A pass soon (a job finished here, or the timer): coalesced, never two at once. */
  kick(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    void this.tick().finally(() => {
      this.ticking = false;
      if (this.again && !this.stopped) {
        this.again = false;
        setImmediate(() => this.kick());
      }
    });
  }

  get outstanding(): number {
    return this.book.outstanding;
  }

  private connect(r: Pick<InstanceRecord, 'instanceId' | 'endpoints' | 'curveKey'> & { role?: string }): void {
    if (this.stopped || (r.role !== undefined && r.role !== 'worker')) return;
    const endpoint = r.endpoints.pull;
    if (endpoint === undefined) return;
    const known = this.peers.get(r.instanceId);
    if (known?.endpoint === endpoint) return;
    if (known) known.socket.close();
    const socket = new zmq.Push({
      immediate: true,
      linger: 0,
      sendTimeout: 0,
      sendHighWaterMark: this.opts.window,
      heartbeatInterval: 1000,
      heartbeatTimeout: 3000,
      ...curveClientOptions(this.opts.curve, r.curveKey),
    });
    socket.connect(endpoint);
    this.peers.set(r.instanceId, { endpoint, socket });
  }

  /** A worker left: what it was sent and has not started goes back to the queue now. */
  private lost(instanceId: string): void {
    const peer = this.peers.get(instanceId);
    if (!peer) return;
    peer.socket.close();
    this.peers.delete(instanceId);
    const ids = this.book.takeWorker(instanceId);
    void releaseIdle(this.opts.db, this.opts.instanceId, ids)
      .then((n) => {
        if (n > 0)
          this.opts.logger.info({ worker: instanceId, released: n }, 'jobs of a worker that left are queued again');
        this.kick();
      })
      .catch((err: unknown) =>
        this.opts.logger.warn(
          { err: String(err), worker: instanceId },
          'could not release the jobs of a worker that left; their lease will',
        ),
      );
  }

  private live(): string[] {
    return [
      ...new Set([
        this.opts.instanceId,
        ...this.opts.directory.instances({ role: 'worker', includeDraining: true }).map((r) => r.instanceId),
      ]),
    ];
  }

  private async tick(): Promise<void> {
    try {
      this.book.reconcile(await runningOf(this.opts.db, this.opts.instanceId));
      const workers = [...this.peers.keys()];
      const room = this.book.room();
      if (room === 0 || workers.length === 0) return;
      const rows = await claimRows(this.opts.db, {
        consumer: WORKER_CONSUMER,
        me: this.opts.instanceId,
        kinds: this.opts.kinds,
        live: this.live(),
        leaseMs: this.opts.leaseMs,
        limit: room,
      });
      const unsent: string[] = [];
      for (const row of rows) {
        const frames = encodeJob({
          id: row.id,
          kind: row.kind,
          attempt: row.attempt,
          enqueuedAt: row.enqueuedAt.getTime(),
          key: row.key,
          payload: row.payload,
        });
        if (!(await this.send(row.id, frames))) unsent.push(row.id);
      }
      if (unsent.length > 0) await unclaim(this.opts.db, unsent);
      if (this.failing) this.opts.logger.info('job dispatch is working again');
      this.failing = false;
      // A full window: more may be due at once.
      if (rows.length === room && unsent.length === 0) this.again = true;
    } catch (err) {
      if (!this.failing)
        this.opts.logger.warn({ err: String(err) }, 'job dispatch pass failed; retrying every interval');
      this.failing = true;
    }
  }

  /** Sends to the least-loaded worker that takes it now; false when none does. */
  private async send(id: string, frames: Buffer[]): Promise<boolean> {
    const tried = new Set<string>();
    for (;;) {
      const worker = this.book.pick([...this.peers.keys()], tried);
      if (worker === undefined) return false;
      tried.add(worker);
      const peer = this.peers.get(worker);
      if (!peer) continue;
      try {
        await peer.socket.send(frames);
        this.book.sent(id, worker, Date.now());
        return true;
      } catch {
        // not connected yet, or its queue is full: the next worker
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.opts.directory.off('up', this.onUp).off('change', this.onChange).off('down', this.onDown);
    for (const p of this.peers.values()) p.socket.close();
    this.peers.clear();
    // Our idle claims go back now rather than when their lease ends.
    const ids = [...new Set(await runningOf(this.opts.db, this.opts.instanceId).catch(() => []))];
    await releaseIdle(this.opts.db, this.opts.instanceId, ids).catch(() => undefined);
  }
}
