/**
 * One broker (edge + HappyBroker): client listeners (TCP, WebSocket) on one side, ZeroMQ links
 * to every service instance on the other, routes learned from Yellow, its own load reported in
 * heartbeats. Built from options with start()/stop(), so two brokers can share a test process.
 */
import { performance } from 'node:perf_hooks';
import type { Server } from 'node:http';
import type { Server as NetServer } from 'node:net';
import { curveOf, type Config } from '../shared/config';
import type { CurveKeys } from '../shared/curve';
import type { Kv } from '../shared/data/kv';
import { openKv } from '../shared/data/store';
import type { Logger } from '../shared/log';
import { Metrics } from '../shared/metrics';
import { Links } from '../services/framework/links';
import { NOON_VERSION, newInstanceId } from '../services/framework/runtime';
import { YellowClient } from '../yellow/client';
import type { Directory } from '../yellow/directory';
import type { InstanceRecord } from '../yellow/types';
import { Admission } from '../edge/admission';
import { ClientConn, type Wire } from '../edge/client-conn';
import { listenTcp } from '../edge/tcp';
import { listenWs } from '../edge/ws';
import { Gateway } from './gateway';
import { RoomHub } from './rooms';
import { RoutingTable } from './routing-table';
import { SessionStore } from './session-store';
import { Sessions } from './sessions';

export interface BrokerOptions {
  cfg: Config;
  logger: Logger;
  /** the session store; default: Redis shards from cfg.redis, else in-process */
  kv?: Kv;
  instanceId?: string;
}

export interface BrokerEndpoints {
  instanceId: string;
  tcp: string;
  ws: string;
  metrics: string;
}

/** Replies (lists, histories) may be larger than a client's request frame. */
const MAX_REPLY_PAYLOAD = 4 * 1024 * 1024;

export class Broker {
  readonly instanceId: string;
  readonly metrics: Metrics;
  private readonly logger: Logger;
  private readonly yellow: YellowClient;
  private table = RoutingTable.empty();
  private links!: Links;
  private admission!: Admission;
  private gateway!: Gateway;
  private sessions!: Sessions;
  private rooms!: RoomHub;
  private servers: (Server | NetServer)[] = [];
  private loadTimer?: NodeJS.Timeout;
  private ownKv = false;
  private kv?: Kv;
  private elu = performance.eventLoopUtilization();
  private readonly curve: CurveKeys | undefined;

  constructor(private readonly opts: BrokerOptions) {
    this.instanceId = opts.instanceId ?? newInstanceId('broker');
    this.logger = opts.logger.child({ role: 'broker', instance: this.instanceId });
    this.metrics = new Metrics({ role: 'broker', instanceId: this.instanceId });
    const curve = curveOf(opts.cfg);
    this.curve = curve;
    this.yellow = new YellowClient({ endpoints: opts.cfg.yellow, heartbeatMs: opts.cfg.heartbeatMs, logger: this.logger, ...(curve ? { curve } : {}) });
  }

  /** True while the broker may not know every service yet (see Gateway.warmingUp). */
  get warmingUp(): boolean {
    return this.gateway?.warmingUp() ?? true;
  }

  get connections(): number {
    return this.admission?.conns.size ?? 0;
  }

  async start(): Promise<BrokerEndpoints> {
    const { cfg } = this.opts;
    this.kv = this.opts.kv ?? (await openKv({ redis: cfg.redis, logger: this.logger }));
    this.ownKv = this.opts.kv === undefined;
    const curve = this.curve ? { curve: this.curve } : {};
    this.links = new Links({ identity: this.instanceId, logger: this.logger, maxQueued: cfg.serviceQueue, maxPayload: MAX_REPLY_PAYLOAD, suspectMs: cfg.heartbeatMs * 3, onPush: (p) => this.sessions.onPush(p), ...curve });
    this.rooms = new RoomHub({ logger: this.logger, maxPayload: MAX_REPLY_PAYLOAD, ...curve });
    const table = (): RoutingTable => this.table;
    this.sessions = new Sessions({ instanceId: this.instanceId, store: new SessionStore(this.kv, this.logger), rooms: this.rooms, table, logger: this.logger, metrics: this.metrics });
    this.gateway = new Gateway({ instanceId: this.instanceId, cfg, logger: this.logger, metrics: this.metrics, links: this.links, table, sessions: this.sessions });
    this.admission = new Admission(cfg, (reason) => this.metrics.drops.inc({ reason }));
    this.admission.start();
    this.watch(await this.yellow.watch());
    const handlers = { open: (wire: Wire) => this.open(wire) };
    const tcp = await listenTcp({ host: cfg.host, port: cfg.brokerPort, maxFrame: cfg.maxFrame, logger: this.logger, handlers });
    const ws = await listenWs({ host: cfg.host, port: cfg.brokerWsPort, maxFrame: cfg.maxFrame, headersTimeoutMs: 10_000, logger: this.logger, handlers });
    this.servers.push(tcp.server, ws.server);
    const metrics = await this.metrics.serve(cfg.host, cfg.metricsPort);
    await this.register({ tcp: tcp.endpoint, ws: ws.endpoint, metrics });
    this.logger.info({ tcp: tcp.endpoint, ws: ws.endpoint, metrics }, 'broker started');
    return { instanceId: this.instanceId, tcp: tcp.endpoint, ws: ws.endpoint, metrics };
  }

  async stop(): Promise<void> {
    if (this.loadTimer) clearInterval(this.loadTimer);
    this.admission?.stop();
    for (const c of [...(this.admission?.conns ?? [])]) c.close('broker stopping');
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    await this.yellow.deregister().catch(() => undefined);
    await this.yellow.stop();
    this.links?.close();
    this.rooms?.close();
    await this.metrics.close();
    if (this.ownKv) await this.kv?.close();
  }

  private open(wire: Wire): { message(bytes: Buffer): void; closed(): void } | undefined {
    if (!this.admission.admit(wire.remote)) return undefined;
    const conn = new ClientConn(wire, this.opts.cfg, (c, reason) => {
      this.admission.remove(c);
      this.sessions.remove(c);
      this.metrics.connections.dec({ transport: wire.transport });
      if (reason.startsWith('slow consumer')) this.metrics.drops.inc({ reason: 'slow_consumer' });
      if (this.logger.isLevelEnabled('debug')) this.logger.debug({ conn: c.id, reason }, 'connection closed');
    });
    this.admission.add(conn);
    this.metrics.connections.inc({ transport: wire.transport });
    return { message: (bytes) => this.gateway.onMessage(conn, bytes), closed: () => conn.close('peer closed') };
  }

  private watch(directory: Directory): void {
    const rebuild = (): void => {
      this.table = RoutingTable.build(directory.instances({ includeDraining: true }), this.table);
    };
    // Connect to every service instance up front: a service can only push to a broker whose
    // DEALER is connected to its ROUTER.
    const connect = (r: InstanceRecord): void => {
      if (r.service && r.endpoints.router) this.links.connect({ instanceId: r.instanceId, router: r.endpoints.router });
    };
    directory.on('up', (r) => {
      connect(r);
      rebuild();
    });
    directory.on('change', rebuild);
    directory.on('down', ({ instanceId, role }) => {
      rebuild();
      this.links.drop(instanceId, 'is down');
      this.sessions.instanceDown(instanceId, role);
    });
    for (const r of directory.instances({ includeDraining: true })) connect(r);
    rebuild();
  }

  private load(): { connections: number; inFlight: number; elu: number; score: number } {
    const now = performance.eventLoopUtilization();
    const elu = performance.eventLoopUtilization(now, this.elu).utilization;
    this.elu = now;
    const connections = this.admission.conns.size;
    this.metrics.inFlight.set(this.gateway.inFlight);
    const score = Math.min(1, Math.max(connections / this.opts.cfg.maxConnections, elu));
    return { connections, inFlight: this.gateway.inFlight, elu: Number(elu.toFixed(3)), score: Number(score.toFixed(4)) };
  }

  private async register(endpoints: { tcp: string; ws: string; metrics: string }): Promise<void> {
    const { cfg } = this.opts;
    this.loadTimer = setInterval(() => this.yellow.setLoad(this.load()), cfg.heartbeatMs);
    await this.yellow
      .register({ role: 'broker', instanceId: this.instanceId, host: cfg.host, endpoints, version: NOON_VERSION, pid: process.pid, startedAt: Date.now(), load: this.load() })
      .catch((err: Error) => this.logger.warn({ err: err.message }, 'no Yellow acknowledged the broker yet; retrying in the background'));
  }
}
