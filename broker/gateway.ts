/**
 * The HappyBroker core: takes each client message, reads only its header, routes it by type or
 * by session, forwards the bytes untouched over ZeroMQ, and writes the reply back. Everything a
 * client can get wrong is answered with a clear TApplicationException or a disconnect, never a
 * crash, and never touches another connection.
 */
import { randomBytes } from 'node:crypto';
import * as thrift from 'thrift';
import type { Config } from '../shared/config';
import { NoonError, type ErrorCode } from '../shared/errors';
import type { Logger } from '../shared/log';
import type { Metrics } from '../shared/metrics';
import { MessageType, peekHeader, ProtocolError, splitMultiplexed, type MessageHeader } from '../shared/thrift/header';
import type { JsonBodyError } from '../shared/thrift/json-in';
import { applicationException } from '../shared/thrift/messages';
import { readRequestId } from '../shared/thrift/request-id';
import { replyOutcome } from '../shared/thrift/reply-outcome';
import type { ReplyEnvelope } from '../shared/wire/frames';
import { pickLeastLoaded } from '../rpc/caller';
import { type Links, NotDelivered } from '../rpc/links';
import { AddressRateLimit } from '../edge/address-limits';
import type { ClientConn } from '../edge/client-conn';
import { checkClientProtocol } from './client-version';
import type { BrokerConn } from './connection';
import { errorReply } from '../edge/replies';
import { route, type Route } from './route';
import type { RoutingTable } from './routing-table';
import type { Sessions } from './sessions';
import { EventsEndpoint } from './events-endpoint';

const NOTHING_TRIED: ReadonlySet<string> = new Set();
const UNKNOWN_EXCEPTION = thrift.Thrift.TApplicationExceptionType.UNKNOWN;

/** Unknown methods or calls before login a connection may make before it is closed. */
const MAX_STRIKES = 3;

export interface GatewayDeps {
  instanceId: string;
  cfg: Config;
  logger: Logger;
  metrics: Metrics;
  links: Links;
  table: () => RoutingTable;
  sessions: Sessions;
  /** Events:poll and Events:subscribe, answered here (events-endpoint.ts) */
  events: EventsEndpoint;
}

export class Gateway {
  private traceSeq = 0;
  private readonly tracePrefix = randomBytes(3).toString('hex');
  inFlight = 0;
  private readonly startedAt = Date.now();
  /** login calls (cfg.loginMethods) per client address, across its connections (edge/address-limits.ts) */
  private readonly loginMethods: ReadonlySet<string>;
  private readonly logins: AddressRateLimit;

  constructor(private readonly d: GatewayDeps) {
    this.loginMethods = new Set(d.cfg.loginMethods);
    this.logins = new AddressRateLimit({ limit: d.cfg.loginAttemptsPerIp, windowMs: d.cfg.loginAttemptsWindowMs });
  }

  /**
   * For its first heartbeats a broker may not know every service yet (roles start together): an
   * unknown service is then a retryable UNAVAILABLE, not a strike.
   */
  warmingUp(): boolean {
    return Date.now() - this.startedAt < 5 * this.d.cfg.heartbeatMs;
  }

  /** One complete Thrift message from a client. Never throws. */
  onMessage(bc: BrokerConn, bytes: Buffer): void {
    const { conn } = bc;
    // Frames read in the same chunk as the one that got the connection closed are dropped.
    if (conn.closed) return;
    const now = Date.now();
    conn.received(now);
    let header: MessageHeader;
    // a JSON client's call is forwarded in compact; one whose body the translation refused is answered here
    let message = bytes;
    let refused: JsonBodyError | undefined;
    try {
      if (conn.json) {
        const call = conn.json.fromClient(bytes);
        header = call.header;
        if (call.ok) message = call.bytes;
        else refused = call.error;
      } else header = peekHeader(bytes, this.d.cfg.maxMethodName);
      if (header.type !== MessageType.CALL)
        throw new ProtocolError(`clients may only send CALL messages, not type ${header.type}`);
    } catch (err) {
      this.d.metrics.drops.inc({ reason: 'protocol_error' });
      conn.close(`protocol error: ${(err as Error).message}`);
      return;
    }
    conn.useProtocol(header.protocol);
    if (!conn.takeCallToken(now)) {
      this.d.metrics.drops.inc({ reason: 'rate_limited' });
      // More refusals within one second than the allowed rate means the client sends at over
      // twice its limit: a flood, not a burst. It is cut off.
      if (conn.refuse(now) > this.d.cfg.callsPerSecond) {
        this.d.metrics.drops.inc({ reason: 'flood' });
        conn.close(`flood: over ${this.d.cfg.callsPerSecond} calls/s`);
      } else {
        conn.send(errorReply(header, 'RATE_LIMITED', `over ${this.d.cfg.callsPerSecond} calls/s on this connection`));
      }
      return;
    }
    if (conn.inFlight >= this.d.cfg.maxInFlight) {
      this.d.metrics.drops.inc({ reason: 'too_many_in_flight' });
      conn.send(errorReply(header, 'BUSY', `more than ${this.d.cfg.maxInFlight} calls in flight on this connection`));
      return;
    }
    // Password guessing and account spam from one address, however often it reconnects.
    if (this.loginMethods.has(header.name) && !this.logins.take(conn.remote, now)) {
      this.d.metrics.drops.inc({ reason: 'login_rate_limited' });
      conn.send(
        errorReply(
          header,
          'RATE_LIMITED',
          `over ${this.d.cfg.loginAttemptsPerIp} login calls per ${this.d.cfg.loginAttemptsWindowMs} ms from this address`,
        ),
      );
      return;
    }
    // Sessions are opened only for clients at or above the cluster's minimum protocol version.
    const gate = refused
      ? { ok: true as const }
      : checkClientProtocol(header.name, message, this.d.cfg.minClientProtocol, this.d.cfg);
    if (!gate.ok) {
      this.d.metrics.drops.inc({ reason: gate.code.toLowerCase() });
      conn.send(errorReply(header, gate.code, gate.detail));
      return;
    }
    let target: { service: string; method: string };
    try {
      target = splitMultiplexed(header.name);
    } catch (err) {
      this.strike(bc, header, 'UNKNOWN_METHOD', (err as Error).message);
      return;
    }
    if (target.service === 'Events') {
      this.answerEvents(bc, header, target.method, message, refused);
      return;
    }
    void this.forward(bc, header, target, message, refused);
  }

  /**
   * A JSON call whose body did not translate, answered where its compact twin would have been
   * forwarded: over a cap in a service's own words, anything else as BAD_REQUEST.
   */
  private refuse(conn: ClientConn, header: MessageHeader, refused: JsonBodyError): void {
    this.d.metrics.drops.inc({ reason: 'bad_request' });
    conn.send(
      refused.cap
        ? applicationException(header.protocol, header.name, header.seqid, UNKNOWN_EXCEPTION, refused.message)
        : errorReply(header, 'BAD_REQUEST', refused.message),
    );
  }

  /** The push stream's calls: the broker answers them itself (broker/events-endpoint.ts). */
  private answerEvents(
    bc: BrokerConn,
    header: MessageHeader,
    method: string,
    bytes: Buffer,
    refused: JsonBodyError | undefined,
  ): void {
    if (!EventsEndpoint.answers(method)) {
      this.strike(bc, header, 'UNKNOWN_METHOD', `Events:${method} is a push, not a call`);
      return;
    }
    if (!bc.session) {
      this.strike(bc, header, 'UNAUTHENTICATED', `Events:${method} needs a logged-in session`);
      return;
    }
    if (refused) {
      this.refuse(bc.conn, header, refused);
      return;
    }
    const started = performance.now();
    bc.conn.callStarted();
    void this.d.events.handle(bc, header, method, bytes).finally(() => {
      bc.conn.callFinished();
      this.count(header.name, 'ok', (performance.now() - started) / 1000);
    });
  }

  /** prom-client hashes a label object on every call; its children are cached per method and outcome. */
  private readonly counters = new Map<string, { inc(): void }>();
  private readonly timers = new Map<string, { observe(v: number): void }>();

  private count(method: string, outcome: string, seconds: number): void {
    const key = `${method}\u0000${outcome}`;
    let c = this.counters.get(key);
    if (!c) {
      c = this.d.metrics.calls.labels(method, outcome);
      // Bounded: methods come from the routing table (unknown ones never get this far) and outcomes from one catalog.
      if (this.counters.size < 10_000) this.counters.set(key, c);
    }
    c.inc();
    let t = this.timers.get(method);
    if (!t) {
      t = this.d.metrics.latency.labels(method);
      if (this.timers.size < 10_000) this.timers.set(method, t);
    }
    t.observe(seconds);
  }

  private strike(bc: BrokerConn, header: MessageHeader, code: ErrorCode, detail: string): void {
    this.d.metrics.drops.inc({ reason: code.toLowerCase() });
    bc.conn.send(errorReply(header, code, detail));
    const strikes = bc.strike();
    // An unknown method from a connection that never logged in closes it at once (nothing legit does that).
    if (strikes >= MAX_STRIKES || (code === 'UNKNOWN_METHOD' && !bc.session))
      bc.conn.close(`${strikes} strikes: ${detail}`, true); // flushed: the client sees why
  }

  private decide(bc: BrokerConn, target: { service: string; method: string }, exclude: ReadonlySet<string>): Route {
    return route(target, bc.view(), this.d.table(), (c, ex) => pickLeastLoaded(c, this.d.links, ex), exclude);
  }

  private async forward(
    bc: BrokerConn,
    header: MessageHeader,
    target: { service: string; method: string },
    bytes: Buffer,
    refused?: JsonBodyError,
  ): Promise<void> {
    const started = performance.now();
    const traceId = `${this.tracePrefix}-${(++this.traceSeq).toString(36)}`;
    let tried: Set<string> | undefined;
    const { conn } = bc;
    conn.callStarted();
    this.inFlight++;
    let outcome = 'ok';
    try {
      for (let attempt = 0; ; attempt++) {
        const r = this.decide(bc, target, tried ?? NOTHING_TRIED);
        if (r.kind === 'reject') {
          outcome = r.code;
          // Unknown method too: the instance of a newer release may not be learnt yet.
          if (r.code === 'UNKNOWN_METHOD' && this.warmingUp()) {
            outcome = 'UNAVAILABLE';
            this.replyError(
              conn,
              header,
              'UNAVAILABLE',
              `${header.name} is not known yet: this broker is still learning routes from Yellow`,
            );
          } else if (r.code === 'UNKNOWN_METHOD' || r.code === 'UNAUTHENTICATED' || r.code === 'FORBIDDEN')
            this.strike(bc, header, r.code, r.detail);
          else this.replyError(conn, header, r.code, r.detail);
          if (r.code === 'STATE_LOST') this.d.sessions.unbind(bc, r.detail);
          return;
        }
        if (refused) {
          outcome = 'BAD_REQUEST';
          this.refuse(conn, header, refused);
          return;
        }
        (tried ??= new Set()).add(r.instance.instanceId);
        const reply = await this.send(bc, header, r, bytes, traceId).catch((err: unknown) => err as Error);
        if (!(reply instanceof Error)) {
          if (r.bindNow && !reply.error) this.d.sessions.bind(bc, r.service.role, r.instance.instanceId);
          // errors a service wrote into the reply (declared or not) count as what they are, not ok
          outcome = reply.error ? reply.error.code : replyOutcome(reply.payload);
          await this.deliver(bc, header, reply);
          return;
        }
        const code = reply instanceof NoonError ? reply.code : 'INTERNAL';
        const retry =
          attempt === 0 &&
          !r.service.stateful &&
          (reply instanceof NotDelivered || (r.idempotent && code === 'UNAVAILABLE'));
        if (retry) continue;
        outcome = code;
        // A durable service's state is not lost with its instance: the outcome is only unknown.
        const lost = r.service.stateful && !r.service.durable && code === 'UNAVAILABLE';
        this.replyError(conn, header, lost ? 'STATE_LOST' : code, reply.message);
        return;
      }
    } finally {
      conn.callFinished();
      this.inFlight--;
      // A client-chosen name must not become a metric series: unknown methods count as one.
      const method = outcome === 'UNKNOWN_METHOD' ? '(unknown)' : header.name;
      this.count(method, outcome, (performance.now() - started) / 1000);
    }
  }

  private send(
    bc: BrokerConn,
    header: MessageHeader,
    r: Extract<Route, { kind: 'forward' }>,
    bytes: Buffer,
    traceId: string,
  ): Promise<ReplyEnvelope> {
    const router = r.instance.endpoints.router;
    if (!router)
      return Promise.reject(new NoonError('UNAVAILABLE', `instance ${r.instance.instanceId} has no endpoint`));
    const { conn, session: s } = bc;
    // Only a session's calls: an anonymous one changes with the connection, so a retry could not match.
    const clientRequestId = s ? readRequestId(bytes, header.protocol) : '';
    if (this.d.logger.isLevelEnabled('debug'))
      this.d.logger.debug({ trace: traceId, method: header.name, to: r.instance.instanceId, conn: conn.id }, 'forward');
    return this.d.links.request(
      {
        instanceId: r.instance.instanceId,
        router,
        ...(r.instance.curveKey ? { serverKey: r.instance.curveKey } : {}),
      },
      {
        timeoutMs: this.d.cfg.requestTimeoutMs,
        sessionId: s?.sessionId ?? `anon:${this.d.instanceId}:${conn.id}`,
        userId: s?.userId ?? '',
        username: s?.username ?? '',
        method: header.name,
        via: this.d.instanceId,
        traceId,
        ...(clientRequestId ? { clientRequestId } : {}),
        payload: bytes,
      },
    );
  }

  private async deliver(bc: BrokerConn, header: MessageHeader, reply: ReplyEnvelope): Promise<void> {
    // Directives first (a login must hold before the client sees its reply and calls again).
    if (reply.directives.length > 0) await this.d.sessions.apply(bc, reply.directives);
    if (reply.error) this.replyError(bc.conn, header, reply.error.code, reply.error.message);
    else bc.conn.send(reply.payload);
  }

  private replyError(conn: ClientConn, header: MessageHeader, code: ErrorCode, detail: string): void {
    conn.send(errorReply(header, code, detail));
  }
}
