/**
 * A worker's receiving side: a ZeroMQ PULL that dispatchers PUSH jobs to. It reads a message only
 * when it has room (at most `concurrency` handlers at once), so jobs wait in the dispatchers'
 * claims rather than in this process, and runs each with runDelivery. A job of a kind this worker
 * has no handler for goes back to the queue at once for a worker that has one.
 */
import * as zmq from 'zeromq';
import { curveServerOptions, ensureZap, watchHandshakes, type CurveKeys } from '../../shared/curve';
import { unclaim } from '../../shared/data/outbox';
import type { Db } from '../../shared/data/sql';
import type { BackoffPolicy } from '../../shared/jobs/backoff';
import type { Logger } from '../../shared/log';
import { decodeJob } from '../../shared/wire/job-frames';
import type { DeliveryHandler } from '../outbox-api';
import { runDelivery, type DeliveryOutcome } from './run-delivery';

export interface JobPullerOptions {
  db: Db;
  host: string;
  /** the PULL port; 0 or none = ephemeral */
  port?: number;
  handlers: ReadonlyMap<string, DeliveryHandler>;
  concurrency: number;
  backoff: BackoffPolicy;
  maxPayload: number;
  logger: Logger;
  curve?: CurveKeys;
  /** after every job this worker ran, with its outcome */
  onOutcome?(kind: string, outcome: DeliveryOutcome, ms: number): void;
}

export class JobPuller {
  private readonly pull: zmq.Pull;
  private running = 0;
  private closed = false;
  private wakeSlot?: () => void;
  private readonly idle = new Set<() => void>();
  private loop?: Promise<void>;

  constructor(private readonly opts: JobPullerOptions) {
    this.pull = new zmq.Pull({
      linger: 0,
      // A few messages read ahead at most: the rest wait in the dispatcher's queue, not here.
      receiveHighWaterMark: Math.max(2, opts.concurrency),
      maxMessageSize: opts.maxPayload + 4096,
      ...curveServerOptions(opts.curve, 'service'),
    });
    watchHandshakes(this.pull, opts.curve);
  }

  /** Binds and starts reading; returns the bound endpoint. */
  async start(): Promise<string> {
    if (this.opts.curve) await ensureZap(this.opts.curve, this.opts.logger);
    await this.pull.bind(
      `tcp://${this.opts.host}:${this.opts.port === undefined || this.opts.port === 0 ? '*' : this.opts.port}`,
    );
    this.loop = this.read();
    return this.pull.lastEndpoint as string;
  }

  /** Jobs running now. */
  get inFlight(): number {
    return this.running;
  }

  private async slot(): Promise<void> {
    while (this.running >= this.opts.concurrency && !this.closed)
      await new Promise<void>((resolve) => (this.wakeSlot = resolve));
  }

  private async read(): Promise<void> {
    for (;;) {
      await this.slot();
      if (this.closed) return;
      let frames: Buffer[];
      try {
        frames = await this.pull.receive();
      } catch (err) {
        if (this.closed) return;
        this.opts.logger.warn({ err: String(err) }, 'job receive failed');
        continue;
      }
      this.running++;
      void this.handle(frames).finally(() => {
        this.running--;
        this.wakeSlot?.();
        this.wakeSlot = undefined;
        if (this.running === 0) for (const fn of this.idle) fn();
      });
    }
  }

  private async handle(frames: Buffer[]): Promise<void> {
    const started = Date.now();
    let job;
    try {
      job = decodeJob(frames, this.opts.maxPayload);
    } catch (err) {
      // Not run: its row stays claimed and comes back when the lease ends.
      this.opts.logger.warn({ err: (err as Error).message }, 'job message refused');
      return;
    }
    const handler = this.opts.handlers.get(job.kind);
    if (!handler) {
      this.opts.logger.warn({ job: job.id, kind: job.kind }, 'no handler for this job kind here; back to the queue');
      await unclaim(this.opts.db, [job.id]).catch(() => undefined);
      return;
    }
    const log = this.opts.logger.child({ job: job.id, kind: job.kind });
    const outcome = await runDelivery(
      this.opts.db,
      handler,
      { ...job, enqueuedAt: new Date(job.enqueuedAt) },
      this.opts.backoff,
      log,
    );
    this.opts.onOutcome?.(job.kind, outcome, Date.now() - started);
  }

  /** Stops reading; waits for the running handlers (their transactions commit or roll back). */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeSlot?.();
    this.pull.close();
    await this.loop?.catch(() => undefined);
    if (this.running > 0) await new Promise<void>((resolve) => this.idle.add(resolve));
  }
}
