/**
 * Serves one ServiceDef over ZeroMQ: a ROUTER for brokers (client calls in, replies and pushes
 * out; internal methods refused), a ROUTER for other services (nested calls, internal methods
 * allowed), each with one bounded BatchSender, and a PUB (room messages). With CURVE each socket
 * admits only its audience's keys (shared/curve.ts), so the socket a call arrived on says whether
 * a broker or a service made it. Each call runs the generated Processor, under decode
 * caps, with handlers bound to the call's context; directives the handler set ride on the reply.
 * Which service role called comes from the proof of its key each request carries
 * (shared/caller-proof.ts); a method with `callerRoles` refuses every other role.
 */
import { performance } from 'node:perf_hooks';
import * as thrift from 'thrift';
import * as zmq from 'zeromq';
import { CallerVerifier } from '../shared/caller-proof';
import { curveServerOptions, ensureZap, watchHandshakes, type CurveKeys } from '../shared/curve';
import { NoonError } from '../shared/errors';
import type { Logger } from '../shared/log';
import { LogLimiter } from '../shared/log-limit';
import { BadTextError, type DecodeCaps } from '../shared/thrift/capped';
import { peekHeader } from '../shared/thrift/header';
import { demultiplexed, openMessage, protocolClass } from '../shared/thrift/messages';
import { bufferTransport } from '../shared/thrift/fast-write';
import { decodeBatch, type Directive, type Envelope, type RequestEnvelope } from '../shared/wire/frames';
import { BatchSender } from '../shared/wire/sender';
import type { PushLog } from '../shared/data/push-log';
import type { TapHub } from '../shared/tap/hub';
import { streamedPushName } from '../shared/push/streamed';
import { withSeqid } from '../shared/thrift/seqid';
import type { InstanceLoad, ServiceMethods } from '../yellow/types';
import type { ServiceCaller } from './caller';
import { callContext, contextHandler, type CallTrace, type ContextDeps } from './context';
import type { CallContext } from './api';
import type { ServiceDef } from './api';
import type { CallOutcome, ReplyCache } from './reply-cache';
import { FairQueue } from './fair-queue';
import { replyOutcome } from '../shared/thrift/reply-outcome';
import { CallLog } from '../shared/trace/call-log';
import { parseTraceField } from '../shared/trace/traceparent';
import { callSpan, type CallSpan, type CallTracer } from '../shared/trace/tracer';

/** Every reason the serving side counts through onDrop, so a role can start each at zero. */
export const SERVER_DROP_REASONS = [
  'send_failed',
  'room_publish_failed',
  'internal_method',
  'bad_input',
  'malformed_envelope',
] as const;

export interface ServiceServerOptions {
  host: string;
  /** fixed ports for the ROUTERs and the PUB (0 or absent = ephemeral), so a manifest can declare them */
  ports?: { router?: number; internal?: number; pub?: number };
  instanceId: string;
  logger: Logger;
  caps: DecodeCaps;
  maxQueued: number;
  maxPayload: number;
  caller: ServiceCaller;
  /** brokers to try when a push targets a session this instance has not seen a call from */
  brokerIds?: () => string[];
  /** rendezvous owner of a key among the live instances of this service */
  ownerOf(key: string): string | undefined;
  onCall?(method: string, ms: number, outcome: 'ok' | 'error'): void;
  /**
   * something refused before any handler ran, by reason (`bad_input`: text a database cannot
   * store; `malformed_envelope`: frames that do not decode as a batch), or `count` replies/pushes a
   * peer could not be sent (`send_failed`)
   */
  onDrop?(reason: string, count?: number): void;
  /** unexpected handler errors are logged once per cause per interval, then counted (default 10 s) */
  errorLogIntervalMs?: number;
  curve?: CurveKeys;
  /** answers clients' retried calls with their first outcome; none = every call runs */
  replyCache?: ReplyCache;
  /** the session store's push streams; without it pushes are unnumbered and follow `via` */
  pushLog?: PushLog;
  /** the traffic tap: offered each call after its reply, only while a tap is attached */
  taps?: TapHub;
  /** a SERVER span per handled call, a child of the caller's span (docs/traces.md) */
  tracer?: CallTracer;
  /** a handler taking this long or longer is logged at info with its trace id; 0 / none = never */
  slowCallMs?: number;
}

/** Remembers which broker each session last called through, bounded (oldest forgotten first). */
const MAX_REMEMBERED_SESSIONS = 100_000;

type Caller = 'broker' | 'service';

/**
 * How requests read from a socket are handled (rpc/fair-queue.ts): round-robin over the peers,
 * RECEIVE_PER_TURN at a time, the event loop running at least every RECEIVE_SLICE_MS, at most
 * RECEIVE_MAX_QUEUED read ahead of their handling. A peer that floods (a hot room's senders)
 * then delays another peer's call by about one slice, not by its whole backlog.
 */
const RECEIVE_SLICE_MS = 2;
const RECEIVE_PER_TURN = 16;
const RECEIVE_MAX_QUEUED = 16_384;

/**
 * A draining instance stays until no request arrived for this long: Yellow tells every broker of
 * the deregistration within a few ms, so a request sent before that arrives well within it.
 */
const DRAIN_QUIET_MS = 250;
const DRAIN_POLL_MS = 20;

const ROUTER_OPTIONS = {
  mandatory: true,
  handover: true,
  linger: 0,
  sendHighWaterMark: 50_000,
  receiveHighWaterMark: 50_000,
  sendTimeout: 0,
  maxMessageSize: 64 * 1024 * 1024,
} as const;

/** Whether a reply payload is a Thrift EXCEPTION message (TApplicationException). */
function isThriftException(payload: Buffer): boolean {
  try {
    return payload.length > 0 && peekHeader(payload, 0xffff).type === thrift.Thrift.MessageType.EXCEPTION;
  } catch {
    return false;
  }
}

/** The call's argument 1 when it is a string (read under the decode caps), else undefined. */
function firstStringArgument(payload: Buffer, caps: DecodeCaps): string | undefined {
  try {
    const { input } = openMessage(payload, caps);
    input.readMessageBegin();
    input.readStructBegin();
    const field = input.readFieldBegin();
    return field.fid === 1 && field.ftype === thrift.Thrift.Type.STRING ? input.readString() : undefined;
  } catch {
    return undefined; // the Processor reads it again and answers what is wrong with it
  }
}

export class ServiceServer<H> {
  private readonly router: zmq.Router;
  private readonly internal: zmq.Router;
  private readonly pub: zmq.Publisher;
  private sender: BatchSender;
  private internalSender: BatchSender;
  private readonly internalMethods: ReadonlySet<string>;
  private readonly callers?: CallerVerifier;
  private pubSender: BatchSender;
  private readonly sessionVia = new Map<string, string>();
  private inFlight = 0;
  /** when a request last arrived or a reply last left (a drain waits for a quiet spell after both) */
  private lastActivityAt = 0;
  private elu = performance.eventLoopUtilization();
  private eluValue = 0;
  private current?: CallContext;
  private readonly processor: { process(input: unknown, output: unknown): void };
  private readonly fairQueues: Array<{ close(): void }> = [];

  private readonly deps: ContextDeps;
  private readonly debug: boolean;
  /** request decoding: the configured caps, and text a database cannot store refused */
  private readonly caps: DecodeCaps;
  private readonly errorLog: LogLimiter;
  private errorLogTimer?: NodeJS.Timeout;
  /** slow calls, and calls failed by the framework, at info with their trace id */
  private readonly callLog: CallLog;
  /** methods whose retries run again: the idempotent ones (safe to repeat), or all with replyCache off */
  private readonly uncached: ReadonlySet<string>;

  constructor(
    readonly def: ServiceDef<H>,
    private readonly opts: ServiceServerOptions,
  ) {
    this.router = new zmq.Router({ ...ROUTER_OPTIONS, ...curveServerOptions(opts.curve, 'broker') });
    this.internal = new zmq.Router({ ...ROUTER_OPTIONS, ...curveServerOptions(opts.curve, 'service') });
    this.pub = new zmq.Publisher({
      linger: 0,
      sendHighWaterMark: 100_000,
      ...curveServerOptions(opts.curve, 'broker'),
    });
    for (const s of [this.router, this.internal, this.pub]) watchHandshakes(s, opts.curve);
    this.internalMethods = new Set(def.internalMethods ?? []);
    if (opts.curve) this.callers = new CallerVerifier(opts.curve);
    this.deps = {
      role: def.role,
      instanceId: opts.instanceId,
      logger: opts.logger,
      caller: opts.caller,
      ownerOf: opts.ownerOf,
      push: (sessionId, payload, directives, via) => this.push(sessionId, payload, directives, via),
    };
    this.debug = opts.logger.isLevelEnabled('debug');
    this.uncached = new Set(
      def.replyCache === false ? Object.keys(def.handlers as object) : (def.idempotentMethods ?? []),
    );
    this.caps = { ...opts.caps, strictText: opts.caps.strictText ?? true };
    this.errorLog = new LogLimiter({ intervalMs: opts.errorLogIntervalMs ?? 10_000 });
    this.callLog = new CallLog(opts.logger, { slowMs: opts.slowCallMs ?? 0 });
    const senderTo = (socket: zmq.Router): BatchSender =>
      new BatchSender((f) => socket.send(f), {
        maxQueued: opts.maxQueued,
        // A dead broker fails every reply and push sent to it until Yellow says it is gone: one
        // line per peer and cause per interval, the rest counted in the interval's summary.
        onFailure: ({ error, peer, envelopes }) => {
          opts.onDrop?.('send_failed', envelopes.length);
          const cause = `could not send to peer ${peer?.toString() ?? '(any)'}: ${error.message}`;
          if (this.errorLog.admit(cause, Date.now()))
            opts.logger.warn(
              { err: error.message, peer: peer?.toString(), count: envelopes.length },
              'could not send to peer (gone or full)',
            );
        },
      });
    this.sender = senderTo(this.router);
    this.internalSender = senderTo(this.internal);
    this.processor = new def.processor(
      contextHandler(
        def,
        () => {
          if (!this.current) throw new NoonError('INTERNAL', 'handler called outside a call');
          return this.current;
        },
        this.errorLog,
      ),
    );
    this.pubSender = new BatchSender((f) => this.pub.send(f), {
      maxQueued: opts.maxQueued,
      onFailure: ({ error, envelopes }) => {
        opts.onDrop?.('room_publish_failed', envelopes.length);
        opts.logger.warn({ err: error.message }, 'room publish failed');
      },
    });
  }

  async start(): Promise<{ router: string; internal: string; pub: string }> {
    if (this.opts.curve) await ensureZap(this.opts.curve, this.opts.logger);
    const on = (port: number | undefined): string => `tcp://${this.opts.host}:${port ? String(port) : '*'}`;
    const ports = this.opts.ports ?? {};
    await this.router.bind(on(ports.router));
    await this.internal.bind(on(ports.internal));
    await this.pub.bind(on(ports.pub));
    this.errorLogTimer = setInterval(() => this.reportRepeatedErrors(), this.errorLog.intervalMs);
    this.errorLogTimer.unref();
    void this.receive(this.router, 'broker');
    void this.receive(this.internal, 'service');
    return {
      router: this.router.lastEndpoint as string,
      internal: this.internal.lastEndpoint as string,
      pub: this.pub.lastEndpoint as string,
    };
  }

  methods(): ServiceMethods {
    const d = this.def;
    return {
      thriftService: d.thriftService,
      methods: Object.keys(d.handlers as object),
      publicMethods: [...(d.publicMethods ?? [])],
      idempotentMethods: [...(d.idempotentMethods ?? [])],
      internalMethods: [...(d.internalMethods ?? [])],
      stateful: d.stateful,
      ...(d.stateful && d.durable === true ? { durable: true } : {}),
    };
  }

  load(): InstanceLoad {
    const now = performance.eventLoopUtilization();
    this.eluValue = performance.eventLoopUtilization(now, this.elu).utilization;
    this.elu = now;
    return { inFlight: this.inFlight, elu: Number(this.eluValue.toFixed(3)) };
  }

  get queueDepth(): number {
    return this.sender.depth;
  }

  /** What waits in each outbound queue, by the name it has in noon_queue_depth. */
  queueDepths(): Record<string, number> {
    return {
      to_brokers: this.sender.depth,
      to_services: this.internalSender.depth,
      room_publish: this.pubSender.depth,
    };
  }

  /**
   * Sends an Events message (and/or directives) to a session's broker. Returns false when the
   * session's broker is unknown and there is no broker to try, or the queue is full.
   */
  push(sessionId: string, payload: Buffer, directives: Directive[] = [], via?: string): boolean {
    const log = this.opts.pushLog;
    const name = log ? streamedPushName(payload, directives) : undefined;
    if (!log || name === undefined) return this.sendPush({ kind: 'push', sessionId, directives, payload }, via);
    // Numbered in the session's stream first; it then goes to the broker holding the session
    // now (not the one a call last came through), and waits in the window when there is none.
    log.append(sessionId, name, payload).then(
      (a) => {
        const numbered = withSeqid(payload, a.seq & 0x7fffffff);
        this.sendPush({ kind: 'push', sessionId, directives, payload: numbered }, a.broker ?? via);
      },
      (err: Error) => {
        this.opts.logger.warn({ err: err.message, sessionId }, 'push stream unreachable: push sent unnumbered');
        this.sendPush({ kind: 'push', sessionId, directives, payload }, via);
      },
    );
    return true;
  }

  private sendPush(env: Envelope & { kind: 'push' }, via: string | undefined): boolean {
    const { sessionId } = env;
    const target = via ?? this.sessionVia.get(sessionId);
    if (target) return this.sender.enqueue(env, Buffer.from(target));
    const brokers = this.opts.brokerIds?.() ?? [];
    for (const b of brokers) this.sender.enqueue(env, Buffer.from(b));
    return brokers.length > 0;
  }

  /** Publishes one numbered room message; brokers subscribed to `topic` fan it out in order. */
  publish(topic: string, seq: number, payload: Buffer): boolean {
    return this.pubSender.enqueue({ kind: 'room', topic, seq, payload }, Buffer.from(topic));
  }

  /** One line per cause whose errors were counted instead of logged in the last interval. */
  private reportRepeatedErrors(): void {
    for (const { cause, suppressed } of this.errorLog.drain(Date.now()))
      this.opts.logger.error(
        { cause, suppressed, intervalMs: this.errorLog.intervalMs },
        'repeated errors not logged (one line per cause per interval)',
      );
  }

  /**
   * Waits, after the instance deregistered, until it has answered what it was sent: nothing in
   * flight, every reply handed to its socket, and neither a request nor a reply for DRAIN_QUIET_MS
   * (a broker that had not yet learnt of the deregistration may still send one; a reply handed to
   * the socket is on the wire well within it, and closing with linger 0 would drop one that is
   * not). Bounded by `deadlineMs`;
   * resolves with how many calls were still in flight then (0 = drained).
   */
  async drain(deadlineMs: number): Promise<number> {
    const until = Date.now() + deadlineMs;
    const idle = (): boolean =>
      this.inFlight === 0 &&
      this.sender.idle &&
      this.internalSender.idle &&
      this.pubSender.idle &&
      Date.now() - this.lastActivityAt >= DRAIN_QUIET_MS;
    while (!idle() && Date.now() < until) await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    return this.inFlight;
  }

  async stop(): Promise<void> {
    if (this.errorLogTimer) clearInterval(this.errorLogTimer);
    this.reportRepeatedErrors();
    this.callLog.close();
    this.sender.close();
    this.internalSender.close();
    this.pubSender.close();
    for (const q of this.fairQueues) q.close();
    this.router.close();
    this.internal.close();
    this.pub.close();
  }

  private async receive(socket: zmq.Router, from: Caller): Promise<void> {
    const fair = new FairQueue<{ peer: Buffer; req: RequestEnvelope }>(
      ({ peer, req }) => this.handle(peer, req, from),
      {
        sliceMs: RECEIVE_SLICE_MS,
        perTurn: RECEIVE_PER_TURN,
        maxQueued: RECEIVE_MAX_QUEUED,
        onError: (err) => this.opts.logger.error({ err, from }, 'request handling failed'),
      },
    );
    this.fairQueues.push(fair);
    try {
      for await (const [peer, ...frames] of socket) {
        if (!peer) continue;
        this.lastActivityAt = Date.now();
        const requests: Array<{ peer: Buffer; req: RequestEnvelope }> = [];
        for (const e of this.decode(peer, frames)) if (e.kind === 'request') requests.push({ peer, req: e });
        fair.push(peer.toString('latin1'), requests);
        const room = fair.room();
        if (room) await room;
      }
    } catch (err) {
      if (!socket.closed) this.opts.logger.error({ err, from }, 'service receive loop ended');
    }
  }

  private decode(peer: Buffer, frames: Buffer[]): Envelope[] {
    try {
      return decodeBatch(frames, this.opts.maxPayload);
    } catch (err) {
      // Counted every time, logged once per interval: a peer sending garbage must not fill the log.
      this.opts.onDrop?.('malformed_envelope');
      if (this.errorLog.admit('malformed envelope', Date.now()))
        this.opts.logger.warn(
          { err: (err as Error).message, peer: peer.toString('latin1').slice(0, 64) },
          'dropped malformed message',
        );
      return [];
    }
  }

  private remember(sessionId: string, via: string): void {
    if (!sessionId) return;
    this.sessionVia.delete(sessionId);
    this.sessionVia.set(sessionId, via);
    if (this.sessionVia.size > MAX_REMEMBERED_SESSIONS)
      this.sessionVia.delete(this.sessionVia.keys().next().value as string);
  }

  /** Whether a client's retry of this call gets its first outcome (docs/retries.md). */
  private cachesReply(req: RequestEnvelope): boolean {
    if (!this.opts.replyCache || !req.clientRequestId || !req.sessionId || req.sessionId.startsWith('anon:'))
      return false;
    return !this.uncached.has(req.method.slice(req.method.indexOf(':') + 1));
  }

  /** Why this request may not run here (FORBIDDEN), or undefined. */
  private refusal(req: RequestEnvelope, from: Caller): { reason: string; error: NoonError } | undefined {
    const method = req.method.slice(req.method.indexOf(':') + 1);
    if (from === 'broker' && this.internalMethods.has(method))
      return {
        reason: 'internal_method',
        error: new NoonError('FORBIDDEN', `${req.method} is internal: only services may call it`, false),
      };
    const allowed = this.def.callerRoles?.[method as keyof H & string];
    if (!allowed || !this.callers) return undefined;
    // The brokers' socket admits broker keys only (ZAP); on the services' socket, the key's proof says which.
    const role = from === 'broker' ? 'broker' : this.callers.roleOf(req.caller);
    if (role !== undefined && allowed.includes(role)) return undefined;
    return {
      reason: 'caller_role',
      error: new NoonError(
        'FORBIDDEN',
        `${req.method} may be called only by ${allowed.join(', ')}, not by ${role ?? 'a caller without a valid key proof'}`,
        false,
      ),
    };
  }

  private handle(peer: Buffer, req: RequestEnvelope, from: Caller): void {
    const sender = from === 'broker' ? this.sender : this.internalSender;
    const refused = this.refusal(req, from);
    if (refused) {
      this.opts.onDrop?.(refused.reason);
      sender.enqueue(
        { kind: 'reply', requestId: req.requestId, directives: [], payload: Buffer.alloc(0), error: refused.error },
        peer,
      );
      return;
    }
    this.remember(req.sessionId, req.via);
    // the clock is read only while a tap is attached: with none, a call pays this one check
    const tapStarted = this.opts.taps?.active ? performance.now() : 0;
    const send = (outcome: CallOutcome): void => {
      const env: Envelope = {
        kind: 'reply',
        requestId: req.requestId,
        directives: outcome.directives,
        payload: outcome.payload,
        ...(outcome.error ? { error: outcome.error } : {}),
      };
      this.lastActivityAt = Date.now();
      if (!sender.enqueue(env, peer)) this.opts.logger.warn({ method: req.method }, 'reply dropped: send queue full');
      if (tapStarted > 0 && this.opts.taps?.active) this.offerToTap(req, from, outcome, performance.now() - tapStarted);
    };
    const cache = this.opts.replyCache;
    if (!cache || !this.cachesReply(req)) return this.execute(req, send);
    void cache
      .answer(
        req.sessionId,
        req.clientRequestId as string,
        Date.now() + req.timeoutMs,
        () => new Promise<CallOutcome>((done) => this.execute(req, done)),
      )
      .then((outcome) => send(this.forThisAttempt(req, outcome)));
  }

  private offerToTap(req: RequestEnvelope, from: Caller, outcome: CallOutcome, ms: number): void {
    this.opts.taps?.offer({
      payload: req.payload,
      ...(outcome.error ? {} : { reply: outcome.payload }),
      record: {
        time: Date.now(),
        role: this.def.role,
        method: req.method,
        service: req.method.slice(0, req.method.indexOf(':')),
        ...(req.userId ? { user: req.userId } : {}),
        ...(req.username ? { username: req.username } : {}),
        ...(req.sessionId ? { session: req.sessionId } : {}),
        ...(req.via ? { broker: req.via } : {}),
        instance: this.opts.instanceId,
        caller: from,
        // an error reply's code is read in the tap's batch, not here
        outcome: outcome.error ? outcome.error.code : '',
        latency_ms: Math.round(ms * 1000) / 1000,
        request_bytes: req.payload.length,
        reply_bytes: outcome.payload.length,
        trace_id: req.traceId,
      },
    });
  }

  /** A remembered outcome carries the first attempt's seqid; this attempt may have used another. */
  private forThisAttempt(req: RequestEnvelope, outcome: CallOutcome): CallOutcome {
    if (outcome.payload.length === 0) return outcome;
    try {
      const payload = withSeqid(outcome.payload, peekHeader(req.payload, 0xffff).seqid);
      return payload === outcome.payload ? outcome : { ...outcome, payload };
    } catch {
      return outcome; // a request or reply that does not parse: the outcome as it was
    }
  }

  /** The SERVER span of a handled call: a child of the caller's span when the envelope names one. */
  private serverSpan(
    tracer: CallTracer,
    req: RequestEnvelope,
    parent: ReturnType<typeof parseTraceField>['parent'],
  ): CallSpan {
    const { name, attributes } = callSpan(req.method);
    return tracer.start(name, 'server', parent, {
      ...attributes,
      ...(req.userId ? { 'noon.user': req.userId } : {}),
      'noon.request.bytes': req.payload.length,
    });
  }

  /** After a reply: the span ended with the call's outcome, and the info line of a slow or failed call. */
  private finished(req: RequestEnvelope, trace: CallTrace, ms: number, payload: Buffer, error?: NoonError): void {
    const slow = this.callLog.isSlow(ms);
    if (!trace.span && !slow && !error) return;
    const outcome = error ? error.code : replyOutcome(payload);
    trace.span?.end(outcome, { 'noon.reply.bytes': payload.length });
    const line = { trace: trace.traceId, method: req.method, outcome, ms, ...(req.userId ? { user: req.userId } : {}) };
    if (error) this.callLog.failed(line);
    else if (slow) this.callLog.slow(line);
  }

  /** Runs the call's handler; `done` gets its outcome exactly once. */
  private execute(req: RequestEnvelope, done: (outcome: CallOutcome) => void): void {
    const started = performance.now();
    const directives: Directive[] = [];
    const field = parseTraceField(req.traceId);
    const { tracer } = this.opts;
    const span: CallSpan | undefined = tracer ? this.serverSpan(tracer, req, field.parent) : undefined;
    // Traced, the id in logs is the exported trace's (a call without a parent starts a new trace).
    const trace: CallTrace = span ? { traceId: span.traceId, span } : { traceId: field.traceId };
    let replied = false;
    let opened: ReturnType<typeof openMessage> | undefined;
    const reply = (payload: Buffer, error?: NoonError): void => {
      if (replied) return;
      replied = true;
      this.inFlight--;
      // A Thrift EXCEPTION reply (arguments that do not decode, an unknown method) is a failed call.
      const failed = error !== undefined || opened?.refusedText() === true || isThriftException(payload);
      const ms = performance.now() - started;
      this.opts.onCall?.(req.method, ms, failed ? 'error' : 'ok');
      this.finished(req, trace, ms, payload, error);
      done({ payload, directives, ...(error ? { error } : {}) });
    };
    this.inFlight++;
    try {
      const refusal = this.def.shed?.({
        method: req.method.slice(req.method.indexOf(':') + 1) as keyof H & string,
        userId: req.userId,
        key: () => firstStringArgument(req.payload, this.caps),
      });
      if (refusal) return reply(Buffer.alloc(0), refusal);
      opened = openMessage(req.payload, this.caps);
      const kind = req.payload[0] === 0x82 ? 'compact' : 'binary';
      const output = new (protocolClass(kind))(bufferTransport((framed) => reply(framed.subarray(4))));
      this.current = callContext(req, directives, this.deps, trace);
      if (this.debug) this.opts.logger.debug({ trace: trace.traceId, method: req.method, via: req.via }, 'call');
      // The Processor reads the arguments synchronously; a refused string makes it answer with a
      // TApplicationException "BAD_REQUEST: …" without calling the handler (nothing is logged).
      this.processor.process(demultiplexed(opened.input), output);
    } catch (err) {
      reply(
        Buffer.alloc(0),
        err instanceof BadTextError
          ? err
          : new NoonError('PROTOCOL', `bad ${req.method} message: ${(err as Error).message}`, false),
      );
    } finally {
      this.current = undefined;
      if (opened?.refusedText()) this.opts.onDrop?.('bad_input');
    }
  }
}
