/**
 * The HappyBroker core: takes each client message, reads only its header, routes it by type or
 * by session, forwards the bytes untouched over ZeroMQ, and writes the reply back. Everything a
 * client can get wrong is answered with a clear TApplicationException or a disconnect, never a
 * crash, and never touches another connection.
 */
import type { Config } from '../shared/config';
import { NoonError, type ErrorCode } from '../shared/errors';
import type { Logger } from '../shared/log';
import type { Metrics } from '../shared/metrics';
import type { TapHub } from '../shared/tap/hub';
import { MessageType, peekHeader, ProtocolError, splitMultiplexed, type MessageHeader } from '../shared/thrift/header';
import type { JsonBodyError } from '../shared/thrift/json-in';
import { readRequestId } from '../shared/thrift/request-id';
import { replyOutcome } from '../shared/thrift/reply-outcome';
import type { ReplyEnvelope } from '../shared/wire/frames';
import { CallLog } from '../shared/trace/call-log';
import { newTraceId } from '../shared/trace/traceparent';
import type { CallTracer } from '../shared/trace/tracer';
import { pickLeastLoaded } from '../rpc/caller';
import { type Links, mayHaveRun, NotDelivered } from '../rpc/links';
import { AddressRateLimit } from '../edge/address-limits';
import type { ClientConn } from '../edge/client-conn';
import { checkClientProtocol } from './client-version';
import type { BrokerConn } from './connection';
import { errorReply } from '../edge/replies';
import { refusalReply } from '../edge/thrift-json';
import { route, type Route } from './route';
import type { RoutingTable } from './routing-table';
import type { Sessions } from './sessions';
import { EventsEndpoint } from './events-endpoint';
import { ForwardSpans } from './forward-spans';

const NOTHING_TRIED: ReadonlySet<string> = new Set();

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
  /** the traffic tap: offered each forwarded call after its reply, only while a tap is attached */
  taps?: TapHub;
  /** spans of forwarded calls; none without an OTLP endpoint */
  tracer?: CallTracer;
}

export class Gateway {
  inFlight = 0;
  /** failed and slow forwarded calls, at info with their trace id */
  private readonly callLog: CallLog;
  private readonly startedAt = Date.now();
  /** login calls (cfg.loginMethods) per client address, across its connections (edge/address-limits.ts) */
  private readonly loginMethods: ReadonlySet<string>;
  private readonly logins: AddressRateLimit;

  constructor(private readonly d: GatewayDeps) {
    this.loginMethods = new Set(d.cfg.loginMethods);
    this.logins = new AddressRateLimit({ limit: d.cfg.loginAttemptsPerIp, windowMs: d.cfg.loginAttemptsWindowMs });
    this.callLog = new CallLog(d.logger, { slowMs: d.cfg.slowCallMs });
  }

  /** Addresses the login limit holds a window for (bounded by the limiter). */
  get loginAddresses(): number {
    return this.logins.size;
  }

  close(): void {
    this.callLog.close();
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

  /** A JSON call whose body did not translate, answered where its compact twin would have been forwarded. */
  private refuse(conn: ClientConn, header: MessageHeader, refused: JsonBodyError): number {
    this.d.metrics.drops.inc({ reason: 'bad_request' });
    const reply = refusalReply(header, refused);
    conn.send(reply);
    return reply.length;
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

  /** Refuses the call and counts a strike; returns the size of the refusal sent. */
  private strike(bc: BrokerConn, header: MessageHeader, code: ErrorCode, detail: string): number {
    this.d.metrics.drops.inc({ reason: code.toLowerCase() });
    const reply = errorReply(header, code, detail);
    bc.conn.send(reply);
    const strikes = bc.strike();
    // An unknown method from a connection that never logged in closes it at once (nothing legit does that).
    if (strikes >= MAX_STRIKES || (code === 'UNKNOWN_METHOD' && !bc.session))
      bc.conn.close(`${strikes} strikes: ${detail}`, true); // flushed: the client sees why
    return reply.length;
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
    const { tracer } = this.d;
    const { conn } = bc;
    const userId = bc.session?.userId;
    // Without a tracer the trace id is all a call carries; with one, it is the trace of its spans.
    const spans = tracer ? new ForwardSpans(tracer, header.name, bytes.length, userId) : undefined;
    const traceId = spans ? spans.traceId : newTraceId();
    const traced = (detail: string): string => (detail.includes('(trace ') ? detail : `${detail} (trace ${traceId})`);
    let tried: Set<string> | undefined;
    /** an instance an earlier attempt may have run on (it went away with the call in flight) */
    let mayHaveRunAt: string | undefined;
    let instance = '';
    let replyBytes = 0;
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
            replyBytes = this.replyError(
              conn,
              header,
              'UNAVAILABLE',
              traced(`${header.name} is not known yet: this broker is still learning routes from Yellow`),
            );
          } else if (r.code === 'UNKNOWN_METHOD' || r.code === 'UNAUTHENTICATED' || r.code === 'FORBIDDEN')
            replyBytes = this.strike(bc, header, r.code, traced(r.detail));
          else replyBytes = this.replyError(conn, header, r.code, traced(r.detail));
          if (r.code === 'STATE_LOST') this.d.sessions.unbind(bc, r.detail);
          return;
        }
        if (refused) {
          outcome = 'BAD_REQUEST';
          replyBytes = this.refuse(conn, header, refused);
          return;
        }
        (tried ??= new Set()).add(r.instance.instanceId);
        instance = r.instance.instanceId;
        const hop = spans?.attempt(r.instance.instanceId, attempt, bytes.length);
        const reply = await this.send(bc, header, r, bytes, hop ? hop.traceparent : traceId).catch(
          (err: unknown) => err as Error,
        );
        if (!(reply instanceof Error)) {
          if (r.bindNow && !reply.error) this.d.sessions.bind(bc, r.service.role, r.instance.instanceId);
          // errors a service wrote into the reply (declared or not) count as what they are, not ok
          outcome = reply.error ? reply.error.code : replyOutcome(reply.payload);
          hop?.end(outcome, { 'noon.reply.bytes': reply.payload.length });
          // A retry refused by its instance does not undo the first attempt, which may still run.
          const unknown =
            reply.error && mayHaveRunAt !== undefined
              ? { ...reply, error: this.unknownOutcome(reply.error, mayHaveRunAt) }
              : reply;
          if (unknown.error) outcome = unknown.error.code;
          replyBytes = await this.deliver(bc, header, unknown, traced);
          return;
        }
        const code = reply instanceof NoonError ? reply.code : 'INTERNAL';
        hop?.end(code);
        const retry =
          attempt === 0 &&
          !r.service.stateful &&
          (reply instanceof NotDelivered || (r.idempotent && code === 'UNAVAILABLE'));
        mayHaveRunAt ??= mayHaveRun(reply) ? r.instance.instanceId : undefined;
        if (retry) continue;
        // A durable service's state is not lost with its instance: the outcome is only unknown.
        const lost = r.service.stateful && !r.service.durable && code === 'UNAVAILABLE';
        // An attempt that may have run (here or on an instance tried before) makes a refusal untrue:
        // the client is told the outcome is unknown, never that the call failed.
        const answer = lost ? 'STATE_LOST' : mayHaveRunAt !== undefined ? 'TIMEOUT' : code;
        outcome = answer;
        const why =
          answer === 'TIMEOUT' && mayHaveRunAt !== undefined
            ? this.unknownOutcome(
                reply instanceof NoonError ? reply : new NoonError('INTERNAL', reply.message),
                mayHaveRunAt,
              ).message
            : reply.message;
        replyBytes = this.replyError(conn, header, answer, traced(why));
        return;
      }
    } finally {
      conn.callFinished();
      this.inFlight--;
      const ms = performance.now() - started;
      // A client-chosen name must not become a metric series: unknown methods count as one.
      const method = outcome === 'UNKNOWN_METHOD' ? '(unknown)' : header.name;
      this.count(method, outcome, ms / 1000);
      spans?.end(outcome, replyBytes);
      if (outcome !== 'ok' || this.callLog.isSlow(ms))
        this.callLog.after({
          trace: traceId,
          method,
          outcome,
          ms,
          conn: conn.id,
          ...(userId ? { user: userId } : {}),
          ...(instance ? { to: instance } : {}),
        });
      // the reply is on its way: the tap's record is made after it, and only while a tap is attached
      if (this.d.taps?.active)
        this.offerToTap(bc, target.service, header.name, outcome, ms, bytes, replyBytes, instance, traceId);
    }
  }

  private offerToTap(
    bc: BrokerConn,
    service: string,
    method: string,
    outcome: string,
    ms: number,
    payload: Buffer,
    replyBytes: number,
    instance: string | undefined,
    traceId: string,
  ): void {
    const s = bc.session;
    this.d.taps?.offer({
      payload,
      record: {
        time: Date.now(),
        role: 'broker',
        method,
        service,
        ...(s?.userId ? { user: s.userId } : {}),
        ...(s?.username ? { username: s.username } : {}),
        ...(s?.sessionId ? { session: s.sessionId } : {}),
        broker: this.d.instanceId,
        ...(instance !== undefined ? { instance } : {}),
        outcome,
        latency_ms: Math.round(ms * 1000) / 1000,
        request_bytes: payload.length,
        reply_bytes: replyBytes,
        trace_id: traceId,
      },
    });
  }

  private send(
    bc: BrokerConn,
    header: MessageHeader,
    r: Extract<Route, { kind: 'forward' }>,
    bytes: Buffer,
    /** the envelope's trace field: the trace id, or the attempt span's traceparent */
    traceField: string,
  ): Promise<ReplyEnvelope> {
    const router = r.instance.endpoints.router;
    if (!router)
      return Promise.reject(new NoonError('UNAVAILABLE', `instance ${r.instance.instanceId} has no endpoint`));
    const { conn, session: s } = bc;
    // Only a session's calls: an anonymous one changes with the connection, so a retry could not match.
    const clientRequestId = s ? readRequestId(bytes, header.protocol) : '';
    if (this.d.logger.isLevelEnabled('debug'))
      this.d.logger.debug(
        { trace: traceField, method: header.name, to: r.instance.instanceId, conn: conn.id },
        'forward',
      );
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
        traceId: traceField,
        ...(clientRequestId ? { clientRequestId } : {}),
        payload: bytes,
      },
    );
  }

  /** The error a call gets when an earlier attempt may have run: TIMEOUT, its outcome unknown. */
  private unknownOutcome(err: NoonError, at: string): NoonError {
    if (err.code === 'TIMEOUT') return err;
    return new NoonError('TIMEOUT', `outcome unknown: the call may have run on ${at} (${err.message})`);
  }

  /** Writes the service's reply to the client; returns its size in bytes. */
  private async deliver(
    bc: BrokerConn,
    header: MessageHeader,
    reply: ReplyEnvelope,
    traced: (detail: string) => string,
  ): Promise<number> {
    // Directives first (a login must hold before the client sees its reply and calls again).
    if (reply.directives.length > 0) await this.d.sessions.apply(bc, reply.directives);
    if (reply.error) return this.replyError(bc.conn, header, reply.error.code, traced(reply.error.message));
    bc.conn.send(reply.payload);
    return reply.payload.length;
  }

  /** Writes an error reply; returns its size in bytes. */
  private replyError(conn: ClientConn, header: MessageHeader, code: ErrorCode, detail: string): number {
    const reply = errorReply(header, code, detail);
    conn.send(reply);
    return reply.length;
  }
}
