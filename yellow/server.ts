/**
 * The Yellow discovery server: a ROUTER for control requests (wire.ts) and a PUB for change
 * events, around the pure Registry. One process may run several (tests do).
 *
 * Timers: expiry is checked every quarter heartbeat (so a silent instance is down at most a
 * quarter interval after its silence limit); once per heartbeat, load changes are published in
 * one batch and a `tick` carries the table version, so a consumer that lost an event notices
 * within one interval without polling the table.
 */
import * as zmq from 'zeromq';
import { curveServerOptions, ensureZap, refused, watchHandshakes, type CurveKeys } from '../shared/curve';
import { advertise } from '../shared/endpoints';
import { admitRegistration, RegistrationRefused } from './admission';
import { NoonError } from '../shared/errors';
import type { Logger } from '../shared/log';
import { Outbox } from './outbox';
import { Registry, RegistryFullError } from './registry';
import type { InstanceRecord, YellowEvent } from './types';
import { RegistrationError } from './validate';
import { decodeRequest, encodeError, encodeEvent, encodeOk, MAX_MESSAGE_BYTES, type YellowRequest } from './wire';

export interface YellowServerOptions {
  /** the address both sockets bind */
  host: string;
  /** the host peers are told to dial (the hello's PUB, start()'s endpoints); default `host` */
  advertiseHost?: string;
  /** ROUTER port; 0 = ephemeral (read the bound endpoint from start()) */
  port: number;
  /** PUB port; 0 or absent = ephemeral (peers learn it from hello either way) */
  pubPort?: number;
  heartbeatMs: number;
  missLimit?: number;
  logger: Logger;
  /** CURVE on both sockets (any keyring key may connect); registrations admitted by key role */
  curve?: CurveKeys;
}

/** Replies or events queued per socket before new ones are dropped. */
const QUEUE_LIMIT = 10_000;
/** At most this many malformed-message warnings per expiry tick, so a fuzzer cannot flood the log. */
const WARN_BUDGET = 20;
/** The clients' DEALER reconnectMaxInterval (link.ts): how late a provider may notice a restarted Yellow. */
const RECONNECT_MAX_MS = 2000;

export class YellowServer {
  private readonly registry: Registry;
  private readonly logger: Logger;
  private router?: zmq.Router;
  private pub?: zmq.Publisher;
  private replies?: Outbox;
  private events?: Outbox;
  private timer?: NodeJS.Timeout;
  private loop?: Promise<void>;
  private startedAt = 0;
  private lastTick = 0;
  private lastFlush = 0;
  private pubEndpoint = '';
  private routerBound = '';
  private warnBudget = WARN_BUDGET;

  constructor(private readonly opts: YellowServerOptions) {
    this.registry = new Registry({ heartbeatMs: opts.heartbeatMs, missLimit: opts.missLimit });
    this.logger = opts.logger;
  }

  async start(): Promise<{ router: string; pub: string }> {
    if (this.opts.curve) await ensureZap(this.opts.curve, this.logger);
    const common = {
      linger: 0,
      sendHighWaterMark: QUEUE_LIMIT,
      maxMessageSize: MAX_MESSAGE_BYTES,
      ...curveServerOptions(this.opts.curve, 'any'),
    };
    // sendTimeout 0: a reply to a peer that cannot take it is dropped, never blocks the loop.
    const router = new zmq.Router({ ...common, mandatory: true, receiveHighWaterMark: QUEUE_LIMIT, sendTimeout: 0 });
    const pub = new zmq.Publisher(common);
    this.router = router;
    this.pub = pub;
    watchHandshakes(router, this.opts.curve);
    watchHandshakes(pub, this.opts.curve);
    const port = this.opts.port === 0 ? '*' : String(this.opts.port);
    await router.bind(`tcp://${this.opts.host}:${port}`);
    await pub.bind(`tcp://${this.opts.host}:${this.opts.pubPort ? String(this.opts.pubPort) : '*'}`);
    const shown = this.opts.advertiseHost ?? this.opts.host;
    this.pubEndpoint = advertise(pub.lastEndpoint ?? '', shown);
    this.routerBound = router.lastEndpoint ?? '';
    this.replies = new Outbox(router, QUEUE_LIMIT, this.logger, 'yellow-router');
    this.events = new Outbox(pub, QUEUE_LIMIT, this.logger, 'yellow-pub');
    this.startedAt = Date.now();
    this.lastTick = this.startedAt;
    this.lastFlush = this.startedAt;
    this.timer = setInterval(() => this.tick(), Math.max(1, Math.floor(this.opts.heartbeatMs / 4)));
    this.loop = this.receiveLoop(router);
    const endpoints = { router: advertise(this.routerBound, shown), pub: this.pubEndpoint };
    this.logger.info({ ...endpoints, heartbeatMs: this.opts.heartbeatMs }, 'yellow listening');
    return endpoints;
  }

  /** The ROUTER as this process reaches it (a wildcard bind through loopback), for registering in itself. */
  get localRouter(): string {
    return this.routerBound.replace(/^tcp:\/\/(0\.0\.0\.0|\*):/, 'tcp://127.0.0.1:');
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.replies?.close();
    this.events?.close();
    for (const s of [this.router, this.pub]) {
      if (s && !s.closed) {
        s.linger = 0;
        s.close();
      }
    }
    await this.loop;
    this.loop = undefined;
  }

  /**
   * True while the table may still be refilling after a (re)start: the liveness window, plus the
   * longest a provider's DEALER waits between reconnection attempts to a vanished Yellow, plus two
   * heartbeats, so a provider on a loaded machine that re-registers late is not reported absent
   * in between.
   */
  private warmingUp(now: number): boolean {
    return now - this.startedAt < this.registry.ttlMs + RECONNECT_MAX_MS + 2 * this.opts.heartbeatMs;
  }

  /** Instances registered here now (draining ones included). */
  get instanceCount(): number {
    return this.registry.size;
  }

  /** A copy of the table (draining ones included). */
  instances(): InstanceRecord[] {
    return this.registry.list();
  }

  /** Bytes handed to the PUB and ROUTER sockets since start (for the discovery bench). */
  get bytesSent(): number {
    return (this.events?.bytes ?? 0) + (this.replies?.bytes ?? 0);
  }

  private tick(): void {
    const now = Date.now();
    // A gap of several ticks means this process was stalled; the silence was ours.
    if (now - this.lastTick > this.opts.heartbeatMs) {
      this.logger.warn({ stalledMs: now - this.lastTick }, 'yellow was stalled; not expiring anyone this round');
      this.registry.forgive(now);
    }
    this.lastTick = now;
    this.warnBudget = WARN_BUDGET;
    for (const ev of this.registry.expire(now)) {
      this.logger.info({ instanceId: ev.type === 'down' ? ev.instanceId : undefined }, 'instance expired');
      this.publish(ev);
    }
    if (now - this.lastFlush >= this.opts.heartbeatMs) {
      this.lastFlush = now;
      for (const ev of this.registry.flushLoads()) this.publish(ev);
      this.publish({ type: 'tick', startedAt: this.startedAt, v: this.registry.version });
    }
  }

  private publish(ev: YellowEvent): void {
    this.events?.push(encodeEvent(ev));
  }

  private async receiveLoop(router: zmq.Router): Promise<void> {
    while (!router.closed) {
      let frames: Buffer[];
      try {
        frames = await router.receive();
      } catch (e) {
        if (router.closed) return;
        this.logger.error({ err: e }, 'yellow receive failed');
        continue;
      }
      try {
        this.onMessage(frames);
      } catch (e) {
        this.logger.error({ err: e }, 'yellow failed handling a message');
      }
    }
  }

  private onMessage(frames: Buffer[]): void {
    const [peer, ...rest] = frames;
    if (!peer) return;
    const decoded = decodeRequest(rest);
    if (!decoded.ok) {
      if (this.warnBudget-- > 0)
        this.logger.warn({ reason: decoded.reason, frames: rest.length }, 'malformed yellow request');
      if (decoded.rid !== undefined)
        this.reply(peer, encodeError(decoded.rid, new NoonError('BAD_REQUEST', decoded.reason)));
      return;
    }
    try {
      this.reply(peer, this.handle(decoded.value, Date.now()));
    } catch (e) {
      const err = e instanceof NoonError ? e : new NoonError('INTERNAL', e instanceof Error ? e.message : String(e));
      if (e instanceof RegistryFullError) this.logger.error({ err: e }, 'registration refused');
      else if (e instanceof RegistrationRefused) {
        refused('registration');
        this.logger.warn({ err: e.message }, 'registration refused');
      } else if (!(e instanceof RegistrationError))
        this.logger.error({ err: e, op: decoded.value.op }, 'yellow request failed');
      this.reply(
        peer,
        encodeError(decoded.value.rid, e instanceof RegistryFullError ? new NoonError('BUSY', e.message) : err),
      );
    }
  }

  private reply(peer: Buffer, msg: [string, string]): void {
    this.replies?.push([peer, ...msg]);
  }

  private handle(req: YellowRequest, now: number): [string, string] {
    switch (req.op) {
      case 'register': {
        if (this.opts.curve) admitRegistration(this.opts.curve, req.reg, this.registry.get(req.reg.instanceId));
        const { record, event } = this.registry.register(req.reg, now);
        this.logger.info(
          { instanceId: record.instanceId, instanceRole: record.role, epoch: record.epoch },
          'instance registered',
        );
        this.publish(event);
        return encodeOk<'register'>(req.rid, { epoch: record.epoch });
      }
      case 'heartbeat': {
        const status = this.registry.heartbeat(req.instanceId, req.load, now, req.stalledMs);
        const draining = this.registry.isDraining(req.instanceId);
        return encodeOk<'heartbeat'>(req.rid, draining === undefined ? { status } : { status, draining });
      }
      case 'deregister': {
        const ev = this.registry.deregister(req.instanceId);
        if (ev) this.publish(ev);
        if (ev) this.logger.info({ instanceId: req.instanceId }, 'instance deregistered');
        return encodeOk<'deregister'>(req.rid, { found: ev !== undefined });
      }
      case 'drain': {
        const ev = this.registry.setDraining(req.instanceId, req.draining);
        if (ev) this.publish(ev);
        return encodeOk<'drain'>(req.rid, { found: ev !== undefined });
      }
      case 'query':
        return encodeOk<'query'>(req.rid, {
          instances: this.registry.list(req.filter),
          warmingUp: this.warmingUp(now),
          startedAt: this.startedAt,
          version: this.registry.version,
        });
      case 'hello':
        return encodeOk<'hello'>(req.rid, {
          pub: this.pubEndpoint,
          startedAt: this.startedAt,
          warmingUp: this.warmingUp(now),
          version: this.registry.version,
        });
    }
  }
}
