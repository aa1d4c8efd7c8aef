/**
 * `noon up --processes`: every role as its own `noon start <role>` child, all on one Postgres.
 * A child that dies is restarted with exponential backoff (reset once it has lived a while), on
 * the same public ports it first got, so URLs printed at start stay valid. SIGINT/SIGTERM stop
 * every child by pid (one SIGTERM, then SIGKILL after a grace period) and exit 0 once they have
 * all stopped; children are in process groups of their own, so a terminal's Ctrl-C (SIGINT to
 * the foreground group) reaches only the supervisor, never the children twice; with TLS
 * configured, SIGHUP is passed on to the broker and the BrokerList (they re-read the certificate).
 */
import { ConfigError, type Config } from '../shared/config';
import type { Logger } from '../shared/log';
import { RoleChild, type ChildReady } from './child';
import { printJson, stopOnSignals } from './lifecycle';
import { resolveLogFormat } from './log-format';
import { cliLogger } from './logger';
import { envOf } from './options';
import { migrateAll } from './migrate';
import { clusterConfig, jobHandlersOf, WORKER_ROLE } from '../roles';
import { loadProject } from './project';
import { describeUp, summaryOf } from './up';
import type { RunningRole } from '../roles';

export const READY_TIMEOUT_MS = 60_000;
export const STOP_GRACE_MS = 10_000;
export const BACKOFF = { firstMs: 200, maxMs: 10_000, resetAfterMs: 30_000 } as const;

/** Next restart delay: doubles per quick death, back to the first after a long enough life. */
export function nextBackoff(prevMs: number | undefined, livedMs: number): number {
  if (prevMs === undefined || livedMs >= BACKOFF.resetAfterMs) return BACKOFF.firstMs;
  return Math.min(BACKOFF.maxMs, prevMs * 2);
}

export function portOf(endpoint: unknown): number | undefined {
  const m = typeof endpoint === 'string' ? endpoint.match(/:(\d+)(\/[^:]*)?$/) : null;
  return m ? Number(m[1]) : undefined;
}

/** After a role's first start, pin its public ports so a restart binds the same ones. */
function pinned(cfg: Config, role: string, ready: ChildReady): Config {
  const keep = (v: number | undefined, fallback: number): number => v ?? fallback;
  if (role === 'yellow') return { ...cfg, yellowPort: keep(portOf(ready.router), cfg.yellowPort) };
  if (role === 'broker')
    return {
      ...cfg,
      brokerPort: keep(portOf(ready.tcp), cfg.brokerPort),
      brokerWsPort: keep(portOf(ready.ws), cfg.brokerWsPort),
      brokerTlsPort: keep(portOf(ready.tls), cfg.brokerTlsPort),
      brokerWssPort: keep(portOf(ready.wss), cfg.brokerWssPort),
    };
  if (role === 'brokerlist')
    return {
      ...cfg,
      brokerlistPort: cfg.plaintext ? keep(portOf(ready.url), cfg.brokerlistPort) : cfg.brokerlistPort,
      brokerlistHttpsPort: keep(portOf(ready.https), cfg.brokerlistHttpsPort),
    };
  if (role === 'console') return { ...cfg, consolePort: keep(portOf(ready.url), cfg.consolePort) };
  return cfg;
}

class Slot {
  child?: RoleChild;
  lastReady?: ChildReady;
  private backoffMs?: number;
  private timer?: NodeJS.Timeout;
  private stopping = false;

  constructor(
    readonly role: string,
    private cfg: Config,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<ChildReady> {
    const child = new RoleChild(this.role, envOf(this.cfg), READY_TIMEOUT_MS);
    this.child = child;
    const startedAt = Date.now();
    void child.exited.then(({ code, signal }) => this.onExit(child, startedAt, code, signal));
    const ready = await child.ready;
    this.cfg = pinned(this.cfg, this.role, ready);
    this.lastReady = ready;
    return ready;
  }

  private onExit(child: RoleChild, startedAt: number, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping || this.child !== child) return;
    this.backoffMs = nextBackoff(this.backoffMs, Date.now() - startedAt);
    // `child` and `childPid`: this logger's own role and pid are the supervisor's (no duplicate keys)
    this.logger.warn(
      { child: this.role, childPid: child.pid, code, signal, restartInMs: this.backoffMs },
      'role died; restarting',
    );
    this.timer = setTimeout(() => {
      this.start().then(
        (ready) => printJson({ event: 'restarted', role: this.role, pid: ready.pid, instanceId: ready.instanceId }),
        (err: Error) => this.logger.error({ child: this.role, err: err.message }, 'restart failed'),
      );
    }, this.backoffMs);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    const child = this.child;
    if (!child?.alive) return;
    await child.stop(STOP_GRACE_MS);
    const { code, signal } = await child.exited;
    const fields = { child: this.role, childPid: child.pid, code, signal };
    if (code === 0) this.logger.info(fields, 'role stopped');
    else this.logger.warn(fields, 'role did not stop cleanly');
  }

  asRunning(): RunningRole {
    const ready = this.lastReady ?? { ready: this.role, pid: this.child?.pid ?? 0 };
    return { role: this.role, ready: { ...ready, pid: this.child?.pid ?? ready.pid }, stop: () => this.stop() };
  }
}

export async function runProcesses(given: Config): Promise<void> {
  let cfg = given;
  if (cfg.pgUrl === undefined) {
    throw new ConfigError(
      '--pg-url / NOON_PG_URL',
      'noon up --processes needs a real Postgres shared by every process (PGlite lives inside one process); set NOON_PG_URL=postgres://…',
    );
  }
  // Children write to a pipe (ours): they log in the format chosen for our own stderr.
  cfg = { ...cfg, logFormat: resolveLogFormat(cfg.logFormat, process.stderr.isTTY === true) };
  const logger = cliLogger(cfg, 'up');
  const applied = await migrateAll(cfg, logger);
  process.stderr.write(`noon up: migrations applied: ${applied.reduce((n, a) => n + a.applied, 0)}\n`);
  if (cfg.redis.length === 0)
    logger.warn('no NOON_REDIS: each process keeps its own in-process store (fine for one instance per role)');
  const slots: Slot[] = [];
  // Yellow last: the others deregister from it as they stop.
  const stop = async (): Promise<void> => {
    await Promise.all(slots.filter((s) => s.role !== 'yellow').map((s) => s.stop()));
    await Promise.all(slots.filter((s) => s.role === 'yellow').map((s) => s.stop()));
  };
  stopOnSignals(stop, logger);
  // SIGHUP re-reads the TLS certificate: pass it on to the roles that listen with TLS
  if (cfg.tlsCert !== undefined)
    process.on('SIGHUP', () => {
      for (const s of slots)
        if ((s.role === 'broker' || s.role === 'brokerlist') && s.child?.alive) s.child.proc.kill('SIGHUP');
    });
  try {
    const yellow = new Slot('yellow', cfg, logger);
    slots.push(yellow);
    const y = await yellow.start();
    const ccfg = clusterConfig(cfg, String(y.router));
    // Each child loads the same project (cfg.project travels in its environment).
    const modules = loadProject(cfg).modules;
    const services = modules.map((m) => m.role);
    // a worker when a module declares jobs (they would wait in the outbox for good without one)
    const worker = jobHandlersOf(modules).size > 0 ? [WORKER_ROLE] : [];
    const infra = [...worker, 'broker', 'brokerlist', ...(cfg.adminToken !== undefined ? ['console'] : [])];
    const rest = [...services, ...infra].map((role) => new Slot(role, ccfg, logger));
    slots.push(...rest);
    process.stderr.write(`noon up: starting ${rest.map((s) => s.role).join(', ')}…\n`);
    await Promise.all(rest.map((s) => s.start()));
  } catch (err) {
    await stop();
    throw err;
  }
  const summary = summaryOf(
    'processes',
    cfg,
    slots.map((s) => s.asRunning()),
  );
  printJson({ ready: 'up', supervisor: process.pid, ...summary });
  process.stdout.write(describeUp(summary));
}
