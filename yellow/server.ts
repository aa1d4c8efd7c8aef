/**
 * The Yellow discovery server: a ROUTER for control requests (wire.ts) and a PUB for change
 * events, around the pure Registry. One process may run several (tests do).
 */
import * as zmq from 'zeromq';
import { curveServerOptions, ensureZap, type CurveKeys } from '../shared/curve';
import { advertise } from '../shared/endpoints';
import { NoonError } from '../shared/errors';
import type { Logger } from '../shared/log';
import { Outbox } from './outbox';
import { Registry, RegistryFullError } from './registry';
import type { YellowEvent } from './types';
import { RegistrationError } from './validate';
import { decodeRequest, encodeError, encodeEvent, encodeOk, MAX_MESSAGE_BYTES, type YellowRequest } from './wire';

export interface YellowServerOptions {
  /** the address both sockets bind */
  host: string;
  /** the host peers are told to dial (the hello's PUB, start()'s endpoints); default `host` */
  advertiseHost?: string;
  /** ROUTER port; 0 = ephemeral (read the bound endpoint from start()) */
  port: number;
  heartbeatMs: number;
  missLimit?: number;
  logger: Logger;
  /** CURVE on both sockets, clients checked by the process's ZAP handler */
  curve?: CurveKeys;
}

/** Replies or events queued per socket before new ones are dropped. */
const QUEUE_LIMIT = 10_000;
/** At most this many malformed-message warnings per expiry tick, so a fuzzer cannot flood the log. */
const WARN_BUDGET = 20;

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
      ...curveServerOptions(this.opts.curve),
    };
    // sendTimeout 0: a reply to a peer that cannot take it is dropped, never blocks the loop.
    const router = new zmq.Router({ ...common, mandatory: true, receiveHighWaterMark: QUEUE_LIMIT, sendTimeout: 0 });
    const pub = new zmq.Publisher(common);
    this.router = router;
    this.pub = pub;
    const port = this.opts.port === 0 ? '*' : String(this.opts.port);
    await router.bind(`tcp://${this.opts.host}:${port}`);
    await pub.bind(`tcp://${this.opts.host}:*`);
    const shown = this.opts.advertiseHost ?? this.opts.host;
    this.pubEndpoint = advertise(pub.lastEndpoint ?? '', shown);
    this.routerBound = router.lastEndpoint ?? '';
    this.replies = new Outbox(router, QUEUE_LIMIT, this.logger, 'yellow-router');
    this.events = new Outbox(pub, QUEUE_LIMIT, this.logger, 'yellow-pub');
    this.startedAt = Date.now();
    this.lastTick = this.startedAt;
    this.timer = setInterval(() => this.tick(), Math.max(1, Math.floor(this.opts.heartbeatMs / 2)));
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
   * True while the table may still be refilling after a (re)start. Two heartbeats longer than the
   * liveness window, so a provider on a loaded machine that re-registers late is not reported
   * absent in between.
   */
  private warmingUp(now: number): boolean {
    return now - this.startedAt < this.registry.ttlMs + 2 * this.opts.heartbeatMs;
  }

  private tick(): void {
    const now = Date.now();
    // A gap of several ticks means this process was stalled; the silence was ours.
    if (now - this.lastTick > this.opts.heartbeatMs * 2) {
      this.logger.warn({ stalledMs: now - this.lastTick }, 'yellow was stalled; not expiring anyone this round');
      this.registry.forgive(now);
    }
    this.lastTick = now;
    this.warnBudget = WARN_BUDGET;
    for (const ev of this.registry.expire(now)) {
      this.logger.info({ instanceId: ev.type === 'down' ? ev.instanceId : undefined }, 'instance expired');
      this.publish(ev);
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
      else if (!(e instanceof RegistrationError))
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
        const { record, event } = this.registry.register(req.reg, now);
        this.logger.info(
          { instanceId: record.instanceId, instanceRole: record.role, epoch: record.epoch },
          'instance registered',
        );
        this.publish(event);
        return encodeOk<'register'>(req.rid, { epoch: record.epoch });
      }
      case 'heartbeat': {
        const before = this.registry.get(req.instanceId)?.load;
        const status = this.registry.heartbeat(req.instanceId, req.load, now);
        if (status === 'ok' && JSON.stringify(before) !== JSON.stringify(req.load)) {
          this.publish({ type: 'load', instanceId: req.instanceId, load: req.load });
        }
        return encodeOk<'heartbeat'>(req.rid, { status });
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
        });
      case 'hello':
        return encodeOk<'hello'>(req.rid, {
          pub: this.pubEndpoint,
          startedAt: this.startedAt,
          warmingUp: this.warmingUp(now),
        });
    }
  }
}
