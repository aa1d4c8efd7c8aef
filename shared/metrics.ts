/**
 * Prometheus metrics of one process (prom-client), served on /metrics and registered in Yellow.
 * One Metrics object per component (never the global registry), so two brokers can share a test
 * process.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsOptions {
  role: string;
  instanceId: string;
  /** process-level metrics (event-loop lag, heap, cpu); off for extra components in one process */
  defaults?: boolean;
}

export class Metrics {
  readonly registry = new Registry();
  /** calls handled (services) or forwarded (brokers), by method and outcome */
  readonly calls: Counter<'method' | 'outcome'>;
  readonly latency: Histogram<'method'>;
  readonly inFlight: Gauge;
  readonly connections: Gauge<'transport'>;
  readonly queueDepth: Gauge<'queue'>;
  /** everything dropped, refused or cut off, by reason */
  readonly drops: Counter<'reason'>;
  private server?: Server;

  constructor(opts: MetricsOptions) {
    this.registry.setDefaultLabels({ role: opts.role, instance: opts.instanceId });
    if (opts.defaults !== false) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
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
    this.queueDepth = new Gauge({
      name: 'noon_queue_depth',
      help: 'messages waiting in a queue',
      labelNames: ['queue'],
      registers,
    });
    this.drops = new Counter({
      name: 'noon_dropped_total',
      help: 'messages or connections dropped, refused or cut off, by reason',
      labelNames: ['reason'],
      registers,
    });
  }

  /** A CallObserver for the RPC layer's server: counts and times every call, counts refused requests. */
  observer(): { onCall(method: string, ms: number, outcome: 'ok' | 'error'): void; onDrop(reason: string): void } {
    return {
      onCall: (method, ms, outcome) => {
        this.calls.inc({ method, outcome });
        this.latency.observe({ method }, ms / 1000);
      },
      onDrop: (reason) => this.drops.inc({ reason }),
    };
  }

  /** Serves GET /metrics; resolves with its URL. Port 0 = ephemeral. */
  async serve(host: string, port: number): Promise<string> {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
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
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
