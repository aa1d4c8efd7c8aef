/**
 * One broker (edge + HappyBroker): client listeners (TCP, WebSocket) on one side, ZeroMQ links
 * to every service instance on the other, routes learned from the Yellow table it is given.
 * Built from options with start()/stop(), so two brokers can share a test process; the role
 * host (roles/broker.ts) registers it in Yellow and reports `load()`.
 */
import { performance } from 'node:perf_hooks';
import type { Server } from 'node:http';
import type { Server as NetServer } from 'node:net';
import type { Config } from '../shared/config';
import type { CurveKeys } from '../shared/curve';
import type { CallTracer } from '../shared/trace/tracer';
import { advertiseAll, bindHostOf } from '../shared/endpoints';
import type { Kv } from '../shared/data/kv';
import type { Logger } from '../shared/log';
import type { Metrics } from '../shared/metrics';
import { Links } from '../rpc/links';
import type { Directory } from '../yellow/directory';
import type { InstanceRecord } from '../yellow/types';
import { Admission } from '../edge/admission';
import { ClientConn, type Wire } from '../edge/client-conn';
import { listenTcp, type ConnInput } from '../edge/tcp';
import { ThriftJsonCodec } from '../edge/thrift-json';
import type { TlsCredentials } from '../edge/tls';
import { listenWs } from '../edge/ws';
import type { FanOutCounts } from './channel-fanout';
import { ChannelHub } from './channels';
import { BrokerConn } from './connection';
import { EventsEndpoint } from './events-endpoint';
import { PushDelivery } from './push-delivery';
import { PushLog, pushWindowOf } from '../shared/data/push-log';
import type { TapHub } from '../shared/tap/hub';
import { Gateway } from './gateway';
import { RoomMemberships } from './room-memberships';
import { RoomHub, type PublisherInfo } from './rooms';
import { RoutingTable } from './routing-table';
import { SessionStore } from './session-store';
import { Sessions } from './sessions';
import { events } from '../shared/thrift/events';
import { builtinShapes } from '../shared/thrift/idl-shapes';

export interface BrokerOptions {
  cfg: Config;
  /** already carries role and instance */
  logger: Logger;
  instanceId: string;
  metrics: Metrics;
  /** the cluster's table from Yellow */
  directory: Directory;
  /** the session store (shared with the other brokers through Redis) */
  kv: Kv;
  curve?: CurveKeys;
  /** the certificate of the TLS listeners (cfg.brokerTlsPort, cfg.brokerWssPort); none without it */
  tls?: TlsCredentials;
  /** the traffic tap's taps (the role host's); none = calls are never tapped */
  taps?: TapHub;
  /** spans of forwarded calls (docs/traces.md); none without an OTLP endpoint */
  tracer?: CallTracer;
}

/**
 * Where clients reach the broker. The plaintext pair is there unless cfg.plaintext is false; the
 * TLS pair only with a certificate.
 */
export interface BrokerEndpoints {
  /** framed Thrift over TCP, host:port */
  tcp?: string;
  /** ws://host:port */
  ws?: string;
  /** framed Thrift over TLS, host:port */
  tls?: string;
  /** wss://host:port */
  wss?: string;
}

export interface BrokerLoad {
  connections: number;
  inFlight: number;
  elu: number;
  /** 0 idle … 1 full: what BrokerList answers */
  score: number;
}

/** A service instance that publishes room messages, as the room hub needs it. */
function publisherOf(r: InstanceRecord): PublisherInfo[] {
  if (!r.service || !r.endpoints.pub) return [];
  return [
    {
      instanceId: r.instanceId,
      role: r.role,
      endpoint: r.endpoints.pub,
      ...(r.curveKey ? { serverKey: r.curveKey } : {}),
    },
  ];
}

/**
 * Every reason the broker counts in noon_dropped_total (gateway, admission, sessions, slow readers),
 * initialised at zero so a dashboard shows each one before it first happens.
 */
export const BROKER_DROP_REASONS = [
  'protocol_error',
  'rate_limited',
  'flood',
  'too_many_in_flight',
  'login_rate_limited',
  'upgrade_required',
  'bad_request',
  'unknown_method',
  'unauthenticated',
  'forbidden',
  'slow_consumer',
  'push_no_session',
  'max_connections',
  'max_connections_per_ip',
] as const;

/** Replies (lists, histories) may be larger than a client's request frame. */
const MAX_REPLY_PAYLOAD = 4 * 1024 * 1024;

/** A connection's messages go to the gateway; its end closes its ClientConn. Two fields, no closures. */
class GatewayInput implements ConnInput {
  constructor(
    private readonly gateway: Gateway,
    private readonly bc: BrokerConn,
  ) {}

  message(bytes: Buffer): void {
    this.gateway.onMessage(this.bc, bytes);
  }

  closed(): void {
    this.bc.conn.close('peer closed');
  }
}

export class Broker {
  readonly instanceId: string;
  readonly metrics: Metrics;
  private readonly logger: Logger;
  private table = RoutingTable.empty();
  private links!: Links;
  private admission!: Admission;
  private gateway!: Gateway;
  private sessions!: Sessions;
  private rooms!: RoomHub;
  private channelHub!: ChannelHub;
  private servers: (Server | NetServer)[] = [];
  private elu = performance.eventLoopUtilization();
  /** set while draining: new connections are refused and the clients asked to move */
  private drainReason: string | undefined;
  private onConnectionGone?: () => void;
  /** each client connection's broker side; also how a closing ClientConn finds its BrokerConn */
  private readonly brokerConns = new Map<ClientConn, BrokerConn>();
  /** one function for every connection's close, not a closure each (bench/idle-conns.ts) */
  private readonly connClosed = (c: ClientConn, reason: string): void => this.closed(c, reason);

  constructor(private readonly opts: BrokerOptions) {
    this.instanceId = opts.instanceId;
    this.logger = opts.logger;
    this.metrics = opts.metrics;
  }

  /** True while the broker may not know every service yet (see Gateway.warmingUp). */
  get warmingUp(): boolean {
    return this.gateway?.warmingUp() ?? true;
  }

  /** Channel subscriptions on this broker, and what their fan-outs counted. */
  get channels(): { subscriptions: number; counts: FanOutCounts } {
    const counts = this.channelHub?.counts() ?? { delivered: 0, filtered: 0, duplicates: 0, gaps: 0 };
    return { subscriptions: this.channelHub?.subscriptions ?? 0, counts };
  }

  get connections(): number {
    return this.admission?.conns.size ?? 0;
  }

  async start(): Promise<BrokerEndpoints> {
    const { cfg } = this.opts;
    const curve = this.opts.curve ? { curve: this.opts.curve } : {};
    this.links = new Links({
      identity: this.instanceId,
      logger: this.logger,
      maxQueued: cfg.serviceQueue,
      maxPayload: MAX_REPLY_PAYLOAD,
      suspectMs: cfg.heartbeatMs * 3,
      onPush: (p) => this.sessions.onPush(p),
      ...curve,
    });
    this.metrics.watchQueue('to_services', () => this.links.queued);
    this.metrics.knowDrops(BROKER_DROP_REASONS);
    this.rooms = new RoomHub({
      logger: this.logger,
      maxPayload: MAX_REPLY_PAYLOAD,
      live: (role) => this.opts.directory.instances({ role, includeDraining: true }).flatMap(publisherOf),
      ...curve,
    });
    this.channelHub = new ChannelHub(this.rooms, this.logger);
    const table = (): RoutingTable => this.table;
    const pushLog = new PushLog(this.opts.kv, pushWindowOf(cfg));
    const delivery = new PushDelivery(pushLog, this.logger, cfg.pushPollMaxWaitMs);
    this.sessions = new Sessions({
      pushLog,
      delivery,
      instanceId: this.instanceId,
      store: new SessionStore(this.opts.kv, this.logger),
      rooms: this.rooms,
      channels: this.channelHub,
      memberships: new RoomMemberships(this.opts.kv, this.logger),
      table,
      logger: this.logger,
      metrics: this.metrics,
    });
    this.gateway = new Gateway({
      instanceId: this.instanceId,
      cfg,
      logger: this.logger,
      metrics: this.metrics,
      links: this.links,
      table,
      sessions: this.sessions,
      events: new EventsEndpoint(delivery, this.logger),
      ...(this.opts.taps ? { taps: this.opts.taps } : {}),
      ...(this.opts.tracer ? { tracer: this.opts.tracer } : {}),
    });
    this.admission = new Admission(cfg, (reason) => this.metrics.drops.inc({ reason }));
    this.admission.start();
    this.watchHeld();
    this.watch(this.opts.directory);
    const handlers = { open: (wire: Wire) => this.open(wire) };
    const common = { host: bindHostOf(cfg), maxFrame: cfg.maxFrame, logger: this.logger, handlers };
    const { tls } = this.opts;
    if (!cfg.plaintext && !tls) throw new Error('broker: plaintext listeners are off and there is no TLS certificate');
    const endpoints: BrokerEndpoints = {};
    if (cfg.plaintext) {
      const tcp = await listenTcp({ ...common, port: cfg.brokerPort });
      this.servers.push(tcp.server);
      const ws = await listenWs({ ...common, port: cfg.brokerWsPort, headersTimeoutMs: 10_000 });
      this.servers.push(ws.server);
      Object.assign(endpoints, { tcp: tcp.endpoint, ws: ws.endpoint });
    }
    if (tls) {
      const secure = await listenTcp({
        ...common,
        port: cfg.brokerTlsPort,
        tls,
        handshakeTimeoutMs: cfg.handshakeTimeoutMs,
      });
      this.servers.push(secure.server);
      const wss = await listenWs({ ...common, port: cfg.brokerWssPort, headersTimeoutMs: 10_000, tls });
      this.servers.push(wss.server);
      Object.assign(endpoints, { tls: secure.endpoint, wss: wss.endpoint });
    }
    this.metrics.knowTransports(Object.keys(endpoints));
    this.logger.info(endpoints, 'broker started');
    return advertiseAll(endpoints, cfg.host);
  }

  async stop(): Promise<void> {
    this.admission?.stop();
    for (const c of [...(this.admission?.conns ?? [])]) c.close('broker stopping');
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.links?.close();
    this.rooms?.close();
    this.gateway?.close();
  }

  get draining(): boolean {
    return this.drainReason !== undefined;
  }

  /**
   * Hands the clients over: refuses new connections, asks every connected client to move
   * (`Events:brokerDraining`; the SDK finishes its calls in flight, then resumes elsewhere) and
   * resolves once all have left, or after `graceMs`, when the rest are closed (a client that
   * ignores the push reconnects like after any drop). `undrain()` takes connections again.
   */
  async drain(reason: string, graceMs: number): Promise<{ moved: number; closed: number }> {
    this.drainReason = reason;
    const conns = this.admission?.conns ?? new Set<ClientConn>();
    const asked = conns.size;
    this.logger.info({ connections: asked, graceMs, reason }, 'draining: asking clients to move');
    // through BrokerConn: only connections that asked for ONEWAY pushes get one (a stock client is closed at the end)
    const push = events.brokerDraining(reason);
    for (const bc of this.brokerConns.values()) bc.deliver(push);
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.onConnectionGone = undefined;
        resolve();
      };
      const timer = setTimeout(done, graceMs);
      this.onConnectionGone = () => {
        if (conns.size === 0) done();
      };
      this.onConnectionGone();
    });
    const closed = conns.size;
    for (const c of [...conns]) c.close(`broker draining: ${reason}`, true);
    this.logger.info({ moved: asked - closed, closed }, 'drained');
    return { moved: asked - closed, closed };
  }

  undrain(): void {
    this.drainReason = undefined;
  }

  private open(wire: Wire): ConnInput | undefined {
    if (this.drainReason !== undefined) return undefined;
    if (!this.admission.admit(wire.remote)) return undefined;
    const conn = new ClientConn(
      wire,
      this.opts.cfg,
      this.connClosed,
      wire.json ? new ThriftJsonCodec(builtinShapes(), this.opts.cfg) : undefined,
    );
    const bc = new BrokerConn(conn);
    this.brokerConns.set(conn, bc);
    this.admission.add(conn);
    this.metrics.connections.inc({ transport: wire.transport });
    return new GatewayInput(this.gateway, bc);
  }

  private closed(c: ClientConn, reason: string): void {
    const bc = this.brokerConns.get(c);
    this.admission.remove(c);
    if (bc) this.sessions.remove(bc);
    this.metrics.connections.dec({ transport: c.transport });
    this.brokerConns.delete(c);
    this.onConnectionGone?.();
    if (reason.startsWith('slow consumer')) this.metrics.drops.inc({ reason: 'slow_consumer' });
    if (this.logger.isLevelEnabled('debug')) this.logger.debug({ conn: c.id, reason }, 'connection closed');
  }

  /** What this broker holds per client, on /metrics (noon_held): each goes with its clients. */
  private watchHeld(): void {
    const m = this.metrics;
    m.watchHeld('broker_connections', () => this.brokerConns.size);
    m.watchHeld('sessions', () => this.sessions.size);
    m.watchHeld('room_topics', () => this.rooms.topicCount);
    m.watchHeld('pending_calls', () => this.links.totalInFlight);
    m.watchHeld('login_limiter_addresses', () => this.gateway.loginAddresses);
  }

  private watch(directory: Directory): void {
    const rebuild = (): void => {
      const keyring = this.opts.curve?.keyring;
      this.table = RoutingTable.build(
        directory.instances({ includeDraining: true }),
        this.table,
        keyring ? (role) => keyring.servicesOf(role) : undefined,
      );
      // client-facing methods count from zero once routable (internal ones are refused, never forwarded)
      for (const name of this.table.serviceNames()) {
        const s = this.table.service(name);
        if (!s) continue;
        const methods = [...s.methods].filter(([, m]) => !m.internal).map(([method]) => `${name}:${method}`);
        this.metrics.knowMethods(methods);
      }
    };
    // Connect to every service instance up front: a service can only push to a broker whose
    // DEALER is connected to its ROUTER.
    const connect = (r: InstanceRecord): void => {
      if (r.service && r.endpoints.router)
        this.links.connect({
          instanceId: r.instanceId,
          router: r.endpoints.router,
          ...(r.curveKey ? { serverKey: r.curveKey } : {}),
        });
    };
    directory.on('up', (r) => {
      connect(r);
      rebuild();
      for (const p of publisherOf(r)) this.rooms.publisherUp(p);
    });
    directory.on('change', rebuild);
    directory.on('down', ({ instanceId, role, reason }) => {
      rebuild();
      // A deregistered instance drains: the calls it was sent are still answered.
      if (reason === 'deregistered') this.links.retire(instanceId, 'deregistered');
      else this.links.drop(instanceId, 'is down');
      this.sessions.instanceDown(instanceId, role);
    });
    for (const r of directory.instances({ includeDraining: true })) connect(r);
    rebuild();
  }

  /** What the broker reports in every heartbeat. */
  load(): BrokerLoad {
    const now = performance.eventLoopUtilization();
    const elu = performance.eventLoopUtilization(now, this.elu).utilization;
    this.elu = now;
    const connections = this.admission?.conns.size ?? 0;
    const inFlight = this.gateway?.inFlight ?? 0;
    this.metrics.inFlight.set(inFlight);
    const score = Math.min(1, Math.max(connections / this.opts.cfg.maxConnections, elu));
    return { connections, inFlight, elu: Number(elu.toFixed(3)), score: Number(score.toFixed(4)) };
  }
}
