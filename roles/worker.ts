/**
 * `noon start worker`: runs the jobs the services enqueue. It takes the job handlers of every
 * module of the project (`ServiceModule.jobs`), binds a PULL that dispatchers push jobs to,
 * registers it in Yellow (role `worker`, endpoint `pull`), and runs a dispatcher of its own that
 * moves due jobs from the outbox to the live workers. /metrics says what the outbox holds.
 *
 * Why the dispatcher lives in the worker and not in the service that enqueued: a job must run
 * even when no instance of its service is up (a studio's service that crashed, a service scaled
 * to zero), dispatch capacity then grows with the workers that do the work, and a service's
 * request path stays one INSERT in its own transaction, knowing nothing of workers.
 */
import { Counter, Gauge } from 'prom-client';
import type { Config } from '../shared/config';
import { advertise, bindHostOf } from '../shared/endpoints';
import { outboxStats, type ConsumerStats } from '../shared/data/outbox';
import type { Db } from '../shared/data/sql';
import type { Logger } from '../shared/log';
import type { AnyServiceModule, JobHandler } from '../rpc/api';
import { JobDispatcher } from '../rpc/jobs/dispatcher';
import { JobPuller } from '../rpc/jobs/job-puller';
import type { DeliveryOutcome } from '../rpc/jobs/run-delivery';
import { migrateModule, migrateOutbox, openData, type SharedData } from './data';
import { RoleHost, type RunningRole } from './host';

export interface WorkerRoleOptions {
  processMetrics?: boolean;
  metricsPort?: number;
}

/** The largest job value a worker accepts, bytes. */
const MAX_JOB_PAYLOAD = 1024 * 1024;

/** Every module's job handlers by kind; two handlers of one kind are a mistake said at start. */
export function jobHandlersOf(modules: readonly AnyServiceModule[]): Map<string, JobHandler> {
  const out = new Map<string, JobHandler>();
  const owner = new Map<string, string>();
  for (const mod of modules)
    for (const h of mod.jobs ?? []) {
      if (h.of !== 'job') throw new Error(`module ${mod.role}: jobs lists ${h.of} handler ${h.kind}; use handleJob()`);
      const other = owner.get(h.kind);
      if (other !== undefined) throw new Error(`job ${h.kind} has two handlers: modules ${other} and ${mod.role}`);
      out.set(h.kind, h);
      owner.set(h.kind, mod.role);
    }
  return out;
}

const FAILURES: readonly DeliveryOutcome[] = ['retry', 'refused', 'exhausted', 'unrecorded'];

/** The outbox as gauges (read from the database at each scrape) and the worker's outcome counters. */
function jobMetrics(host: RoleHost, db: Db): (kind: string, outcome: DeliveryOutcome) => void {
  const registers = [host.metrics.registry];
  let last: Promise<ConsumerStats[]> | undefined;
  // One query per scrape for all three gauges: the first gauge collected starts it.
  const stats = (): Promise<ConsumerStats[]> => {
    last ??= outboxStats(db)
      .catch((err: unknown) => {
        host.logger.warn({ err: String(err) }, 'outbox stats unavailable');
        return [];
      })
      .finally(() => setImmediate(() => (last = undefined)));
    return last;
  };
  const gauge = (name: string, help: string, pick: (s: ConsumerStats) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['consumer'],
      registers,
      async collect() {
        this.reset();
        for (const s of await stats()) this.set({ consumer: s.consumer }, pick(s));
      },
    });
  };
  gauge(
    'noon_jobs_queued',
    'deliveries waiting in the outbox (due or backing off), by consumer (worker, or a subscribing service)',
    (s) => s.queued,
  );
  gauge('noon_jobs_running', 'deliveries claimed and not finished, by consumer', (s) => s.running);
  gauge(
    'noon_jobs_oldest_age_seconds',
    'age of the oldest delivery still owed, by consumer; 0 when none',
    (s) => s.oldestAgeSeconds,
  );
  const failed = new Counter({
    name: 'noon_jobs_failed_total',
    help: 'failed job attempts run by this worker, by what became of the job: retry (back to the queue), refused or exhausted (dead-lettered), unrecorded (its lease brings it back)',
    labelNames: ['outcome'],
    registers,
  });
  const done = new Counter({
    name: 'noon_jobs_done_total',
    help: 'jobs this worker ran to completion (duplicate: a repeated delivery of a job done already, not run again)',
    labelNames: ['outcome'],
    registers,
  });
  for (const outcome of FAILURES) failed.inc({ outcome }, 0);
  for (const outcome of ['done', 'duplicate']) done.inc({ outcome }, 0);
  return (_kind, outcome) => (FAILURES.includes(outcome) ? failed : done).inc({ outcome });
}

export function startWorkerRole(
  modules: readonly AnyServiceModule[],
  cfg: Config,
  logger: Logger,
  shared?: SharedData,
  opts: WorkerRoleOptions = {},
): Promise<RunningRole> {
  return RoleHost.run({ role: 'worker', cfg, logger, ...opts }, async (host) => {
    const handlers = jobHandlersOf(modules);
    const data = shared ?? (await openData(cfg, host.logger));
    if (!shared) host.onStop(() => data.db.close());
    if (!shared) host.onStop(() => data.kv.close());
    await migrateOutbox(data.db);
    // The tables the handlers write belong to their modules: a worker may start before any of them.
    for (const mod of modules) if ((mod.jobs ?? []).length > 0) await migrateModule(data.db, mod);
    const directory = await host.directory();
    const backoff = { baseMs: cfg.jobBackoffMs, maxMs: cfg.jobMaxBackoffMs };
    const count = jobMetrics(host, data.db);
    // Made after the puller (it needs the puller's endpoint); the puller wakes it once it exists.
    const wake: { dispatcher?: JobDispatcher } = {};
    const puller = new JobPuller({
      db: data.db,
      host: bindHostOf(cfg),
      port: cfg.workerPullPort,
      handlers,
      concurrency: cfg.jobConcurrency,
      backoff,
      maxPayload: MAX_JOB_PAYLOAD,
      logger: host.logger.child({ component: 'jobs' }),
      ...(host.curve ? { curve: host.curve } : {}),
      onOutcome: (kind, outcome) => {
        count(kind, outcome);
        wake.dispatcher?.kick();
      },
    });
    const pull = advertise(await puller.start(), cfg.host);
    host.onStop(() => puller.stop());
    const running = new JobDispatcher({
      db: data.db,
      instanceId: host.instanceId,
      kinds: [...handlers.keys()],
      directory,
      self: { instanceId: host.instanceId, pull, ...(host.curve ? { curveKey: host.curve.publicKey } : {}) },
      pollMs: cfg.jobPollMs,
      leaseMs: cfg.jobLeaseMs,
      window: cfg.jobConcurrency * 4,
      logger: host.logger.child({ component: 'dispatch' }),
      ...(host.curve ? { curve: host.curve } : {}),
    });
    wake.dispatcher = running;
    // Stops before the puller (newest first): nothing new is sent while the last jobs finish.
    host.onStop(() => running.stop());
    await host.register({
      endpoints: { pull },
      load: () => ({ inFlight: puller.inFlight, elu: 0 }),
    });
    running.start();
    host.logger.info({ pull, kinds: [...handlers.keys()] }, 'worker started');
    return { role: 'worker', ready: host.readyFields({ pull }), stop: () => host.stop() };
  });
}
