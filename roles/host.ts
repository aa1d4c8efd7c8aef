/**
 * The role host: what every role of a process does the same way, done once. It names the
 * instance, gives it a logger and a /metrics endpoint, watches Yellow when the role needs the
 * cluster's table, registers the role's endpoints (with version, pid, start time and the metrics
 * URL), reports its load every heartbeat, and on stop deregisters first (so nobody routes to it
 * while it closes), then closes what the role handed it, newest first.
 */
import { Counter, Gauge } from 'prom-client';
import type { Config } from '../shared/config';
import { onRefusal, REFUSAL_REASONS, type CurveKeys } from '../shared/curve';
import { advertise, bindHostOf } from '../shared/endpoints';
import { internalKeysFor } from '../shared/internal-keys';
import { NOON_VERSION, newInstanceId } from '../shared/identity';
import type { Logger } from '../shared/log';
import { Metrics, type Readiness } from '../shared/metrics';
import { TAP_PATH, TapEndpoint } from '../shared/tap/endpoint';
import { TapHub } from '../shared/tap/hub';
import { openTracer, type CallTracer } from '../shared/trace/tracer';
import { BeatThread } from '../yellow/beat-thread';
import { YellowClient } from '../yellow/client';
import type { Directory } from '../yellow/directory';
import type { InstanceEndpoints, InstanceLoad, ServiceMethods } from '../yellow/types';

export interface RoleHostOptions {
  role: string;
  cfg: Config;
  /** the process logger; the host's carries role and instance */
  logger: Logger;
  /** process-wide metrics (CPU, memory, event loop): only the first role of a process has them */
  processMetrics?: boolean;
  /** the metrics port (default cfg.metricsPort) */
  metricsPort?: number;
}

export interface Registration {
  endpoints: Omit<InstanceEndpoints, 'metrics'>;
  service?: ServiceMethods;
  /** read at registration and every heartbeat */
  load?: () => InstanceLoad;
}

/** A started role: what its ready line reports and how to stop it. */
export interface RunningRole {
  role: string;
  /** the ready line's fields besides `ready`: instance id, endpoints, pid */
  ready: Record<string, unknown>;
  stop(): Promise<void>;
}

const IDLE: InstanceLoad = { inFlight: 0, elu: 0 };

export class RoleHost {
  readonly role: string;
  readonly instanceId: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly curve: CurveKeys | undefined;
  /** the traffic tap's taps on this role (GET /tap on the metrics port; docs/tap.md) */
  readonly taps: TapHub;
  private readonly tapEndpoint: TapEndpoint;
  /** spans of this role's calls; undefined when no OTLP endpoint is configured */
  tracer: CallTracer | undefined;
  private metricsUrlValue = '';
  private yellowClient?: YellowClient;
  private yellowEndpoints?: string[];
  private directoryValue?: Promise<Directory>;
  private loadTimer?: NodeJS.Timeout;
  private readonly closers: Array<() => Promise<void> | void> = [];
  /** set by announceDraining: unready at once, before Yellow's next report */
  private drainingSelf = false;
  private stopped = false;

  private constructor(private readonly opts: RoleHostOptions) {
    this.role = opts.role;
    this.instanceId = newInstanceId(opts.role);
    this.logger = opts.logger.child({ role: opts.role, instance: this.instanceId });
    this.metrics = new Metrics({ role: opts.role, instanceId: this.instanceId, defaults: opts.processMetrics ?? true });
    this.curve = internalKeysFor(opts.cfg, opts.role);
    if (this.curve) this.countRefusals();
    this.taps = new TapHub((n) => this.metrics.drops.inc({ reason: 'tap' }, n));
    this.tapEndpoint = new TapEndpoint({
      hub: this.taps,
      adminToken: opts.cfg.adminToken,
      role: opts.role,
      instanceId: this.instanceId,
      logger: this.logger,
    });
    this.countTaps();
  }

  /** noon_taps: taps attached now (0 = the hot path skips the tap); drops start at zero. */
  private countTaps(): void {
    const taps = this.taps;
    new Gauge({
      name: 'noon_taps',
      help: 'traffic taps attached to this instance (GET /tap)',
      registers: [this.metrics.registry],
      collect() {
        this.set(taps.size);
      },
    });
    this.metrics.drops.inc({ reason: 'tap' }, 0);
    this.metrics.handle(TAP_PATH, (req, res) => this.tapEndpoint.handle(req, res));
  }

  /** Internal peers refused at the handshake, and registrations refused by Yellow. */
  private countRefusals(): void {
    const refused = new Counter({
      name: 'noon_internal_refused_total',
      help: 'internal-plane peers or requests refused, by reason (unknown_key, wrong_role, handshake, registration)',
      labelNames: ['reason'],
      registers: [this.metrics.registry],
    });
    for (const reason of REFUSAL_REASONS) refused.inc({ reason }, 0);
    this.closers.push(onRefusal((reason) => refused.inc({ reason })));
  }

  /**
   * Opens a host and composes a role on it; if the composition fails, everything the host was
   * handed so far is closed and the error is rethrown (a role never half-starts).
   */
  static async run<T>(opts: RoleHostOptions, compose: (host: RoleHost) => Promise<T>): Promise<T> {
    const host = await RoleHost.open(opts);
    try {
      return await compose(host);
    } catch (err) {
      await host.stop();
      throw err;
    }
  }

  /** A host with its /metrics served. */
  static async open(opts: RoleHostOptions): Promise<RoleHost> {
    const host = new RoleHost(opts);
    // The heartbeat thread boots while the role composes, so it runs by the time the role registers.
    BeatThread.get(host.logger);
    host.metrics.setReadiness(() => host.readiness());
    host.tracer = await openTracer(
      { role: opts.role, instanceId: host.instanceId, version: NOON_VERSION },
      { otlpEndpoint: opts.cfg.otlpEndpoint, env: process.env, logger: host.logger },
    );
    // The first closer, so the last to run: spans of calls finished while the role stopped are sent too.
    const { tracer } = host;
    if (tracer)
      host.closers.unshift(() =>
        tracer.shutdown().catch((err: Error) => host.logger.warn({ err: err.message }, 'spans not exported at stop')),
      );
    const bound = await host.metrics.serve(bindHostOf(opts.cfg), opts.metricsPort ?? opts.cfg.metricsPort);
    host.metricsUrlValue = advertise(bound, opts.cfg.host);
    return host;
  }

  get cfg(): Config {
    return this.opts.cfg;
  }

  get metricsUrl(): string {
    return this.metricsUrlValue;
  }

  /** Register with these Yellows instead of cfg.yellow (Yellow itself registers in itself). */
  useYellow(endpoints: string[]): void {
    if (this.yellowClient) throw new Error('useYellow() after the Yellow client was made');
    this.yellowEndpoints = endpoints;
  }

  /** This process's Yellow client, made on first use. */
  get yellow(): YellowClient {
    this.yellowClient ??= YellowClient.fromConfig(this.opts.cfg, this.logger, {
      ...(this.yellowEndpoints ? { endpoints: this.yellowEndpoints } : {}),
      ...(this.curve ? { curve: this.curve } : {}),
    });
    return this.yellowClient;
  }

  /** The cluster's table from Yellow, watched once per host (empty until a Yellow answers). */
  directory(): Promise<Directory> {
    if (!this.directoryValue) {
      this.directoryValue = this.yellow.watch();
      this.countDirectory(this.directoryValue);
    }
    return this.directoryValue;
  }

  /**
   * noon_directory_instances: how many instances this consumer's table holds, read at each scrape.
   * Beside Yellow's noon_yellow_instances it says whether the consumer has converged.
   */
  private countDirectory(directory: Promise<Directory>): void {
    let table: Directory | undefined;
    void directory.then((d) => (table = d)).catch(() => undefined);
    new Gauge({
      name: 'noon_directory_instances',
      help: "instances in this consumer's copy of Yellow's table (draining ones included)",
      registers: [this.metrics.registry],
      collect() {
        this.set(table?.size ?? 0);
      },
    });
  }

  /**
   * /readyz: ready once a Yellow acknowledged the registration, until the instance is draining
   * (by an operator or its own SIGTERM) or stopping; a role that never registers is not ready.
   */
  readiness(): Readiness {
    if (this.stopped) return { ready: false, reason: 'stopping' };
    const y = this.yellowClient;
    if (!y?.registered) return { ready: false, reason: 'not registered in Yellow yet' };
    if (this.drainingSelf || y.draining) return { ready: false, reason: 'draining' };
    return { ready: true, reason: 'ready' };
  }

  /** The ready line's fields: the role's endpoints plus the instance id, metrics URL and pid. */
  readyFields(endpoints: object): Record<string, unknown> {
    return { instanceId: this.instanceId, ...endpoints, metrics: this.metricsUrl, pid: process.pid };
  }

  /** Runs at stop, after deregistration, newest first. */
  onStop(close: () => Promise<void> | void): void {
    this.closers.push(close);
  }

  /**
   * Registers the role in Yellow and reports its load every heartbeat. A Yellow that does not
   * answer yet is retried by the client in the background: a role starts without Yellow.
   */
  async register(r: Registration): Promise<void> {
    const { cfg } = this.opts;
    const load = r.load ?? ((): InstanceLoad => IDLE);
    this.loadTimer = setInterval(() => this.yellow.setLoad(load()), cfg.heartbeatMs);
    await this.yellow
      .register({
        role: this.role,
        instanceId: this.instanceId,
        host: cfg.host,
        version: NOON_VERSION,
        pid: process.pid,
        startedAt: Date.now(),
        endpoints: { ...r.endpoints, metrics: this.metricsUrl },
        ...(r.service ? { service: r.service } : {}),
        load: load(),
      })
      .catch((err: Error) =>
        this.logger.warn(
          { err: err.message },
          'no Yellow acknowledged the registration yet; retrying in the background',
        ),
      );
  }

  /** Marks this instance draining in Yellow: nobody sends it new work (BrokerList stops offering a broker). */
  async announceDraining(): Promise<void> {
    this.drainingSelf = true;
    await this.yellow
      .drain(this.instanceId, true)
      .catch((err: Error) => this.logger.warn({ err: err.message }, 'could not mark this instance draining in Yellow'));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.loadTimer) clearInterval(this.loadTimer);
    if (this.yellowClient) {
      await this.yellowClient.deregister().catch(() => undefined);
      await this.yellowClient.stop();
    }
    for (const close of this.closers.reverse()) await close();
    this.tapEndpoint.closeAll();
    await this.metrics.close();
  }
}
