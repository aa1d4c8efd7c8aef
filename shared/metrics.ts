/**
 * Prometheus metrics of one process (prom-client), served on /metrics and registered in Yellow,
 * beside the probes: /healthz (the process answers) and /readyz (the role says it takes work).
 * One Metrics object per component (never the global registry), so two brokers can share a test
 * process.
 *
 * Conventions: samples carry no target labels (`instance`, `role`): Prometheus adds the target's
 * own at scrape time, and one `noon_build_info{version, role, instance_id, node} 1` per target is
 * what a query joins on for the role. Each component serves its own /metrics, so the components
 * of one `noon up` process are separate targets; process metrics (CPU, memory, event loop, Db and
 * Redis latency) come from one of them only. Labelled series are initialised at zero for the
 * label values known in advance (methods, drop reasons, transports), so rates and ratios exist
 * before the first event.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHistogram, performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { processDataMetrics } from './data/data-metrics';
import { NOON_VERSION } from './identity';

export interface MetricsOptions {
  role: string;
  instanceId: string;
  /** process-level metrics (event-loop lag, heap, cpu, Db and Redis); off for extra components in one process */
  defaults?: boolean;
}

/** What /readyz answers: 200 when ready, else 503; `reason` says why in either case. */
export interface Readiness {
  ready: boolean;
  reason: string;
}

/** Methods come from services' registrations; a bound keeps a misbehaving one from growing series forever. */
const MAX_KNOWN_METHODS = 10_000;

export class Metrics {
  readonly registry = new Registry();
  /** calls handled (services) or forwarded (brokers), by method and outcome */
  readonly calls: Counter<'method' | 'outcome'>;
  readonly latency: Histogram<'method'>;
  readonly inFlight: Gauge;
  readonly connections: Gauge<'transport'>;
  readonly queueDepth: Gauge<'queue'>;
  private readonly queues = new Map<string, () => number>();
  private readonly held = new Map<string, () => number>();
  private loopTimer?: NodeJS.Timeout;
  private readiness: () => Readiness = () => ({ ready: true, reason: 'ready' });
  /** everything dropped, refused or cut off, by reason */
  readonly drops: Counter<'reason'>;
  private server?: Server;
  /** other endpoints on this port (the tap), by path */
  private readonly handlers = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();
  private readonly knownMethods = new Set<string>();
  private readonly routes = new Map<string, () => unknown>();

  constructor(opts: MetricsOptions) {
    if (opts.defaults !== false) {
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
      for (const m of processDataMetrics.all()) this.registry.registerMetric(m);
    }
    const registers = [this.registry];
    this.calls = new Counter({
      name: 'noon_calls_total',
      help: 'calls by method and outcome',
      labelNames: ['method', 'outcome'],
      registers,
    });
    this.latency = new Histogram({
      name: 'noon_call_duration_seconds',
      help: 'call latency by method',
      labelNames: ['method'],
      registers,
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    });
    this.inFlight = new Gauge({ name: 'noon_in_flight', help: 'calls in flight', registers });
    this.connections = new Gauge({
      name: 'noon_connections',
      help: 'open client connections',
      labelNames: ['transport'],
      registers,
    });
    const queues = this.queues;
    this.queueDepth = new Gauge({
      name: 'noon_queue_depth',
      help: 'messages waiting in a queue, read at each scrape',
      labelNames: ['queue'],
      registers,
      collect() {
        for (const [queue, depth] of queues) this.set({ queue }, depth());
      },
    });
    const held = this.held;
    new Gauge({
      name: 'noon_held',
      help: 'entries a long-lived table of this process holds (sessions, rooms, pending calls), read at each scrape',
      labelNames: ['what'],
      registers,
      collect() {
        for (const [what, size] of held) this.set({ what }, size());
      },
    });
    if (opts.defaults !== false) this.watchLoopDelay(registers);
    // the info metric: which role and build each target is (join on it, count by version)
    new Gauge({
      name: 'noon_build_info',
      help: 'always 1; the labels say which role, instance, noon release and Node.js this target is',
      labelNames: ['version', 'role', 'instance_id', 'node'],
      registers,
    }).set({ version: NOON_VERSION, role: opts.role, instance_id: opts.instanceId, node: process.versions.node }, 1);
    this.drops = new Counter({
      name: 'noon_dropped_total',
      help: 'messages or connections dropped, refused or cut off, by reason',
      labelNames: ['reason'],
      registers,
    });
  }

  /** Serves `path` on this port with `handler` (which answers every method itself). */
  handle(path: string, handler: (req: IncomingMessage, res: ServerResponse) => void): void {
    this.handlers.set(path, handler);
  }

  /**
   * Methods this component counts from now on: their `outcome` series (`ok` and any given) and
   * latency start at zero. Cheap to call with the same names again (a broker does at every route change).
   */
  knowMethods(methods: Iterable<string>, outcomes: readonly string[] = ['ok']): void {
    for (const method of methods) {
      if (this.knownMethods.has(method)) continue;
      if (this.knownMethods.size >= MAX_KNOWN_METHODS) return;
      this.knownMethods.add(method);
      for (const outcome of outcomes) this.calls.inc({ method, outcome }, 0);
      this.latency.zero({ method });
    }
  }

  /** Drop reasons this component may count: their series start at zero. */
  knowDrops(reasons: Iterable<string>): void {
    for (const reason of reasons) this.drops.inc({ reason }, 0);
  }

  /** Transports this component listens on: their connection gauges start at zero. */
  knowTransports(transports: Iterable<string>): void {
    for (const transport of transports) this.connections.inc({ transport }, 0);
  }

  /** Serves GET `path` on the metrics port as JSON, from `body()` at each request. */
  serveJson(path: string, body: () => unknown): void {
    this.routes.set(path, body);
  }

  /** What /readyz reports from now on (default: always ready). */
  setReadiness(readiness: () => Readiness): void {
    this.readiness = readiness;
  }

  /** `depth` is read at every scrape into noon_queue_depth{queue}. */
  watchQueue(queue: string, depth: () => number): void {
    this.queues.set(queue, depth);
  }

  /**
   * `size` is read at every scrape into noon_held{what}: per-client state that must go with its
   * clients (a flood of connections that closed leaves these where they were before it).
   */
  watchHeld(what: string, size: () => number): void {
    this.held.set(what, size);
  }

  /**
   * The event loop's delay since the last scrape: a 10 ms timer records how late it fires; the
   * gauge gives the max, p99 and mean of those delays, then starts over. (prom-client's lag gauge
   * times one setImmediate per scrape, and perf_hooks' monitorEventLoopDelay drops the first
   * sample after a reset, so both miss a block that ends just before a scrape.)
   */
  private watchLoopDelay(registers: Registry[]): void {
    const TICK_MS = 10;
    const h = createHistogram();
    let last = performance.now();
    this.loopTimer = setInterval(() => {
      const now = performance.now();
      h.record(Math.max(1, Math.round((now - last - TICK_MS) * 1e6)));
      last = now;
    }, TICK_MS);
    this.loopTimer.unref();
    new Gauge({
      name: 'noon_event_loop_delay_seconds',
      help: 'event-loop delay since the previous scrape (stat: max, p99, mean)',
      labelNames: ['stat'],
      registers,
      collect() {
        // a block still going on counts too: the timer has not fired since `last`
        const current = Math.max(0, performance.now() - last - TICK_MS) / 1e3;
        const ns = (v: number): number => (Number.isFinite(v) && h.count > 0 ? v / 1e9 : 0);
        this.set({ stat: 'max' }, Math.max(ns(h.max), current));
        this.set({ stat: 'p99' }, ns(h.percentile(99)));
        this.set({ stat: 'mean' }, ns(h.mean));
        h.reset();
      },
    });
  }

  /** A CallObserver for the RPC layer's server: counts and times every call, counts refused requests. */
  observer(): {
    onCall(method: string, ms: number, outcome: 'ok' | 'error'): void;
    onDrop(reason: string, count?: number): void;
  } {
    return {
      onCall: (method, ms, outcome) => {
        this.calls.inc({ method, outcome });
        this.latency.observe({ method }, ms / 1000);
      },
      onDrop: (reason, count = 1) => this.drops.inc({ reason }, count),
    };
  }

  /** Serves GET /metrics; resolves with its URL. Port 0 = ephemeral. */
  async serve(host: string, port: number): Promise<string> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'GET' && path === '/healthz') {
        // alive = this event loop answers; never a dependency's state (a probe that follows a
        // dependency restarts every process when that dependency blinks)
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      }
      if (req.method === 'GET' && path === '/readyz') {
        const r = this.readiness();
        res.writeHead(r.ready ? 200 : 503, { 'content-type': 'text/plain' }).end(`${r.reason}\n`);
        return;
      }
      const handler = path === undefined ? undefined : this.handlers.get(path);
      if (handler) {
        try {
          handler(req, res);
        } catch (err) {
          if (!res.headersSent) res.writeHead(500).end(`${(err as Error).message}\n`);
          else res.destroy();
        }
        return;
      }
      const route = req.method === 'GET' && path !== undefined ? this.routes.get(path) : undefined;
      if (route) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(route()));
        return;
      }
      if (req.method !== 'GET' || path !== '/metrics') {
        res.writeHead(404).end('not found\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(`${err.message}\n`),
      );
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    server.maxHeadersCount = 100;
    server.on('clientError', (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    return `http://${host}:${(server.address() as AddressInfo).port}/metrics`;
  }

  async close(): Promise<void> {
    clearInterval(this.loopTimer);
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
