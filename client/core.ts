/**
 * The client both SDK builds share: one connection to a broker with typed calls, pushes, and
 * session resume. The Node SDK (client.ts) and the browser build (browser.ts) are thin
 * subclasses that only choose the transports (the `Connector`) and the i64 default.
 *
 * When the connection drops, calls in flight reject with CONNECTION_LOST (outcome unknown) and
 * the client reconnects by itself: BrokerList again (the lost broker goes last), connect, then
 * Sso:resume(token) before anything else; calls made meanwhile wait, each up to its own deadline.
 * A call made in a session is not rejected but sent once more after the resume, with the same
 * request id, and gets its first outcome (docs/retries.md).
 *
 * No platform API in here (no Node module, no DOM): timers, fetch and Promise only.
 */
import Int64 from 'node-int64';
import type { Logger } from '../shared/log';
import {
  Channels,
  type ChannelMessage,
  Chat,
  type ChatMessage,
  Duel,
  Events,
  Leaderboard,
  Player,
  type Session,
  Sso,
} from '../shared/protocol';
import type { DecodeCaps } from '../shared/thrift/capped';
import type { ClientClass } from '../shared/thrift/channel';
import type { ThriftProtocol } from '../shared/thrift/header';
import {
  fetchBrokers,
  rankBrokers,
  endpointOf,
  TRANSPORT_KINDS,
  type FetchLike,
  type TransportKind,
} from './brokerlist';
import { CLIENT_CAPS, Connection } from './connection';
import { ClientError, errorCode } from './errors';
import {
  PUSH_NAMES,
  PushRouter,
  type PushName,
  TypedEmitter,
  type ClientEvents,
  type ProcessorClass,
  type ReconnectInfo,
} from './events';
import { bigints, i64, type Bigints, type I64Mode, type I64Params } from './i64';
import { ChannelTracker } from './channels';
import { RoomTracker, type ChatCalls } from './rooms';
import { sessionTrackingSso } from './session';
import type { Connector, Transport } from './transport';

export interface NoonClientOptions {
  /** Thrift protocol of calls; default 'compact' */
  protocol?: ThriftProtocol;
  /**
   * default 'tcp' (the browser build: 'wss' on an https page, else 'ws'); with a BrokerList,
   * picks the brokers' endpoints of that kind: tcp, ws, or their TLS twins tls and wss
   */
  transport?: TransportKind;
  /**
   * tls, wss and an https BrokerList: the CA certificate(s), PEM, the servers' certificates must
   * chain to, instead of the system store. Node only. Host names are checked either way.
   */
  ca?: string | Buffer | Array<string | Buffer>;
  /** deadline of each call; default 10 000 ms */
  callTimeoutMs?: number;
  /** deadline to open a connection; default 5000 ms */
  connectTimeoutMs?: number;
  /** deadline of a BrokerList request; default 5000 ms */
  brokerListTimeoutMs?: number;
  /** reconnect when the connection drops; default true */
  reconnect?: boolean;
  /** backoff between reconnect attempts, full jitter (the first waits 0..min); default 100..5000 ms */
  reconnectDelayMs?: { min: number; max: number };
  /** give up after this many failed attempts in a row (queued calls then fail CLOSED); default unlimited */
  maxReconnectAttempts?: number;
  /** Sso:ping when nothing arrived for this long; no answer within callTimeoutMs = reconnect. 0 = off; default 15 000 ms */
  keepAliveMs?: number;
  /**
   * read room history by itself to repair gaps and catch up after a join or resume (`Chat:history`);
   * default true. Off, room messages are delivered as they arrive (a load test accounting for
   * every call it makes turns it off).
   */
  roomCatchUp?: boolean;
  /** largest reply frame accepted; default 4 MiB */
  maxFrame?: number;
  /** bytes waiting in the socket's write buffer before calls fail BUSY; default 1 MiB */
  maxBufferedBytes?: number;
  /** source address of the connection (e.g. 127.0.0.2, to exceed one address's ports); Node only; default: the OS picks */
  localAddress?: string;
  /** calls that may wait for a reconnect before new ones fail BUSY; default 1024 */
  maxQueuedCalls?: number;
  caps?: DecodeCaps;
  /** where listener errors and undecodable pushes are reported; default: nowhere */
  logger?: Pick<Logger, 'warn'>;
}

/** How i64 values of replies and pushes reach app code (i64.ts): given as the `i64` option. */
export interface I64Option<M extends I64Mode> {
  i64?: M;
}

/** A generated client as the app sees it: as generated, or with bigints in and out. */
export type Api<C, M extends I64Mode> = M extends 'bigint' ? BigintApi<C> : C;
/** Every call of a generated client takes bigints for its i64 arguments and resolves with bigints. */
export type BigintApi<C> = {
  [K in keyof C]: C[K] extends (...args: infer A) => Promise<infer R>
    ? (...args: I64Params<A>) => Promise<Bigints<R>>
    : C[K];
};
/** A value the SDK hands to app code, in mode M. */
export type Out<T, M extends I64Mode> = M extends 'bigint' ? Bigints<T> : T;
type OutArgs<A extends unknown[], M extends I64Mode> = { [I in keyof A]: Out<A[I], M> };
/** A chat message as the app receives it (i64 as Int64 or bigint). */
type ChatMessageOf<M extends I64Mode> = Out<ChatMessage, M>;
/** The events of on(), in mode M. */
export type EventsOf<M extends I64Mode> = { [K in keyof ClientEvents]: OutArgs<ClientEvents[K], M> };
/**
 * A handler for a service's pushes: any of the generated IHandler's methods, each called with the
 * push's arguments (in mode M). Its return value is ignored.
 */
export type PushHandler<H, M extends I64Mode> = {
  [K in keyof H]?: H[K] extends (...args: infer A) => unknown ? (...args: OutArgs<A, M>) => void : never;
};

/** Where a client finds its broker: a BrokerList to ask, or one fixed endpoint. */
export type Target = { kind: 'brokerlist'; url: string } | { kind: 'fixed'; endpoint: string };

/** Calls whose rejection means the broker said no to the resume, not that the connection is bad. */
const TRANSIENT_BROKER_CODES = new Set(['UNAVAILABLE', 'BUSY', 'TIMEOUT', 'RATE_LIMITED']);

const NOT_CONVERTED = new Set(['incrementSeqId', 'constructor']);

/**
 * `client` whose calls resolve (and reject) with bigints for i64s. A Proxy, so it fits any
 * generated client; the call itself is made synchronously on the real client, so withTimeout()
 * and the SDK's own priority calls see it.
 */
function bigintApi<C extends object>(client: C): BigintApi<C> {
  const wrapped = new Map<string, unknown>();
  return new Proxy(client, {
    get(target, prop) {
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      if (NOT_CONVERTED.has(prop) || prop.startsWith('send_') || prop.startsWith('recv_')) return v;
      let w = wrapped.get(prop);
      if (w === undefined) {
        const fn = v as (...args: unknown[]) => unknown;
        w = (...args: unknown[]): unknown => {
          const r = fn.apply(target, args);
          if (!(r instanceof Promise)) return r;
          return r.then(bigints, (err: unknown) => {
            throw err instanceof ClientError ? err : bigints(err);
          });
        };
        wrapped.set(prop, w);
      }
      return w;
    },
  }) as unknown as BigintApi<C>;
}

export abstract class ClientCore<M extends I64Mode> {
  readonly sso: Api<Sso.Client, M>;
  readonly player: Api<Player.Client, M>;
  readonly duel: Api<Duel.Client, M>;
  readonly chat: Api<Chat.Client, M>;
  readonly leaderboard: Api<Leaderboard.Client, M>;
  /**
   * channels with filters evaluated at the broker (docs/channels.md): `subscribe(channel, handler,
   * { filter })` delivers each matching message once, in seq order, gaps repaired from history
   */
  readonly channels: ChannelTracker;
  /** how i64 values of replies and pushes reach app code */
  readonly i64: M;
  private readonly conn: Connection;
  private readonly events: TypedEmitter<ClientEvents>;
  private readonly pushes: PushRouter;
  /** rooms joined through `chat`: their messages in seq order, once each, gaps repaired */
  readonly rooms: RoomTracker<ChatMessageOf<M>>;
  private readonly apis = new Map<string, unknown>();
  /** the SDK's own Sso (session tracking, resume, keep-alive): never converted */
  private readonly rawSso: Sso.Client;
  private readonly transportKind: TransportKind;
  private currentSession?: Session;
  /** the seq of the last push of the session's stream handled (docs/pushes.md) */
  private lastSeq = 0;
  private readonly rawEvents: Events.Client;
  private closed = false;
  private kicked = false;
  private reconnecting = false;
  private keepAlive?: ReturnType<typeof setInterval>;
  private pinging = false;
  private wakeBackoff?: () => void;

  protected constructor(
    private readonly target: Target,
    private readonly opts: NoonClientOptions & I64Option<M>,
    connector: Connector,
    defaultI64: M,
    /** the BrokerList fetch, when the platform's own will not do (the Node SDK with a `ca`) */
    private readonly brokerListFetch?: FetchLike,
  ) {
    this.i64 = opts.i64 ?? defaultI64;
    this.transportKind = opts.transport ?? 'tcp';
    this.events = new TypedEmitter((event, err) => opts.logger?.warn({ err, event }, 'noon client listener threw'));
    const caps = opts.caps ?? CLIENT_CAPS;
    this.pushes = new PushRouter(caps, (push, err) =>
      opts.logger?.warn({ err, push }, 'noon client push handler threw'),
    );
    this.pushes.add('Events', Events.Processor, this.builtinPushHandler(), this.convertArgs());
    this.conn = new Connection({
      connector,
      protocol: opts.protocol ?? 'compact',
      callTimeoutMs: opts.callTimeoutMs,
      caps,
      maxQueued: opts.maxQueuedCalls,
      onPush: (bytes, header) => {
        // A numbered push (seqid > 0) is handled once: a replay after a resume may repeat some.
        if (header.seqid > 0) {
          if (header.seqid <= this.lastSeq) return;
          this.lastSeq = header.seqid;
        }
        const err = this.pushes.dispatch(bytes, header.name);
        if (err) opts.logger?.warn({ err }, 'noon client dropped a push');
      },
      onDrop: (reason, t) => this.onDrop(reason, t),
      inSession: () => this.currentSession !== undefined,
    });
    this.rawSso = this.conn.client(
      sessionTrackingSso((s) => this.sessionChanged(s)),
      'Sso',
    );
    this.rawEvents = this.conn.client(Events.Client, 'Events');
    this.sso = this.service(Sso.Client, 'Sso');
    this.player = this.service(Player.Client, 'Player');
    this.duel = this.service(Duel.Client, 'Duel');
    const chat = this.service(Chat.Client, 'Chat');
    this.rooms = new RoomTracker<ChatMessageOf<M>>({
      history: (roomId, afterSeq, limit) =>
        opts.roomCatchUp === false
          ? Promise.resolve([])
          : (chat.history as (r: string, a: Int64, l: number) => Promise<ChatMessageOf<M>[]>)(
              roomId,
              i64(afterSeq),
              limit,
            ),
      emit: (m) => this.events.emit('chatMessage', m as ChatMessage),
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
    this.chat = this.rooms.wrap(chat as Api<Chat.Client, M> & ChatCalls<{ lastSeq?: unknown }>);
    this.leaderboard = this.service(Leaderboard.Client, 'Leaderboard');
    this.channels = new ChannelTracker(
      this.conn.client(Channels.Client, 'Channels'),
      opts.logger ? { logger: opts.logger } : {},
      (m) => this.events.emit('channelMessage', m),
    );
  }

  /** The session from the last register/login/resume; undefined before login and after logout. */
  get session(): Out<Session, M> | undefined {
    return this.currentSession === undefined ? undefined : this.out(this.currentSession);
  }

  /** The seq of the last push of the session's stream handled (0 before any); docs/pushes.md. */
  get lastPushSeq(): number {
    return this.lastSeq;
  }

  /** The broker endpoint in use, or undefined while disconnected. */
  get endpoint(): string | undefined {
    return this.conn.current?.endpoint;
  }

  /** Calls made and not settled yet (sent and awaiting a reply, or waiting for a reconnect). */
  get inFlight(): number {
    return this.conn.inFlight;
  }

  /** True while a transport is attached and no reconnect/resume is under way. */
  get connected(): boolean {
    return this.conn.current !== undefined && !this.reconnecting;
  }

  /**
   * The generated client of any Thrift service on this connection, e.g. a studio's own:
   * `c.service(MyGame.Client, 'MyGame')` calls `MyGame:<method>`. One client per service name
   * (a second call returns the first); it reconnects and resumes with the rest.
   */
  service<C extends object>(Ctor: ClientClass<C>, name: string): Api<C, M> {
    const existing = this.apis.get(name);
    if (existing !== undefined) return existing as Api<C, M>;
    const raw = this.conn.client(Ctor, name);
    const api = this.i64 === 'bigint' ? bigintApi(raw) : raw;
    this.apis.set(name, api);
    return api as Api<C, M>;
  }

  /**
   * Receives a service's own pushes: each ONEWAY `<service>:<method>` is decoded by the generated
   * `Processor` (e.g. `MyGame.Processor`) and `handler.<method>` is called with its arguments.
   * `Events:*` pushes also reach on(). Returns a function that removes the handler.
   */
  onPushes<H extends object>(service: string, Processor: ProcessorClass<H>, handler: PushHandler<H, M>): () => void {
    return this.pushes.add(service, Processor, handler, this.convertArgs());
  }

  /** Subscribes to a push or connection event; returns an unsubscribe function. */
  on<K extends keyof ClientEvents>(event: K, fn: (...args: EventsOf<M>[K]) => void): () => void {
    return this.events.on(event, fn as unknown as (...args: ClientEvents[K]) => void);
  }

  off<K extends keyof ClientEvents>(event: K, fn: (...args: EventsOf<M>[K]) => void): void {
    this.events.off(event, fn as unknown as (...args: ClientEvents[K]) => void);
  }

  once<K extends keyof ClientEvents>(event: K, fn: (...args: EventsOf<M>[K]) => void): () => void {
    return this.events.once(event, fn as unknown as (...args: ClientEvents[K]) => void);
  }

  /** Calls made synchronously inside `fn` get `timeoutMs` as their deadline: `c.withTimeout(500, () => c.player.getWallet())`. */
  withTimeout<T>(timeoutMs: number, fn: () => T): T {
    return this.conn.withTimeout(timeoutMs, fn);
  }

  /** Closes the connection and stops reconnecting; pending calls reject with CLOSED. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepAlive);
    this.wakeBackoff?.();
    this.conn.close('closed by the client');
  }

  protected async start(): Promise<this> {
    await this.open(new Set());
    this.conn.release();
    const every = this.opts.keepAliveMs ?? 15_000;
    if (every > 0) this.keepAlive = setInterval(() => this.keepAliveTick(every), Math.max(50, Math.floor(every / 3)));
    return this;
  }

  private out<T>(v: T): Out<T, M> {
    return (this.i64 === 'bigint' ? bigints(v) : v) as Out<T, M>;
  }

  private convertArgs(): ((args: unknown[]) => unknown[]) | undefined {
    return this.i64 === 'bigint' ? (args) => args.map((a) => bigints(a)) : undefined;
  }

  /** Connects to the first broker that answers, best first; the transport starts held. */
  private async open(avoid: ReadonlySet<string>): Promise<Transport> {
    const candidates = await this.candidates(avoid);
    const errors: string[] = [];
    let retryable = false;
    for (const endpoint of candidates) {
      try {
        return await this.conn.connect(this.transportKind, endpoint, {
          hold: true,
          connectTimeoutMs: this.opts.connectTimeoutMs,
          maxFrame: this.opts.maxFrame,
          maxBufferedBytes: this.opts.maxBufferedBytes,
          ...(this.opts.localAddress ? { localAddress: this.opts.localAddress } : {}),
          ...(this.opts.ca !== undefined ? { ca: this.opts.ca } : {}),
        });
      } catch (err) {
        if (this.closed) throw err;
        errors.push((err as Error).message);
        // a refused certificate stays refused; a refused connection may not
        retryable ||= !(err instanceof ClientError) || err.retryable;
      }
    }
    throw new ClientError('CONNECT', `no broker accepted a connection: ${errors.join('; ')}`, { retryable });
  }

  private async candidates(avoid: ReadonlySet<string>): Promise<string[]> {
    if (this.target.kind === 'fixed') return [this.target.endpoint];
    const brokers = await fetchBrokers(this.target.url, {
      timeoutMs: this.opts.brokerListTimeoutMs,
      ...(this.brokerListFetch ? { fetch: this.brokerListFetch } : {}),
    });
    // a reconnect (something to avoid) draws its first choice, so a storm spreads; a first connect takes the least loaded
    const ranked = rankBrokers(brokers, this.transportKind, avoid, avoid.size > 0 ? Math.random : undefined).map(
      (b) => endpointOf(b, this.transportKind) as string,
    );
    if (ranked.length === 0) {
      const offered = TRANSPORT_KINDS.filter((k) => brokers.some((b) => endpointOf(b, k) !== undefined));
      throw new ClientError(
        'BROKERLIST',
        `${this.target.url} lists no broker with a ${this.transportKind} endpoint${offered.length ? ` (it offers ${offered.join(', ')}: set the transport option)` : ''}`,
      );
    }
    return ranked;
  }

  /**
   * A login or resume: this connection asks for the session's pushes (Events:subscribe), from
   * after the last one handled when it is the same session, else from the start. A resume in
   * the reconnect loop subscribes there, ahead of the queued calls.
   */
  private sessionChanged(s: Session | undefined): Promise<void> | undefined {
    const same = s !== undefined && this.currentSession?.sessionId === s.sessionId;
    this.currentSession = s;
    if (!same) this.lastSeq = 0;
    if (s === undefined || this.reconnecting) return undefined;
    return this.subscribePushes();
  }

  private async subscribePushes(): Promise<void> {
    await this.rawEvents.subscribe(new Int64(this.lastSeq));
  }

  /** Forwards every Events push to on() listeners; `kicked` also stops automatic reconnects. */
  private builtinPushHandler(): Partial<Events.IHandler> {
    const forward =
      <K extends PushName>(name: K) =>
      (...args: ClientEvents[K]): void => {
        if (name === 'kicked') this.kicked = true;
        // the pushes up to toSeq are gone: the app resyncs (the event), the stream goes on after them
        if (name === 'pushesMissed') this.lastSeq = Math.max(this.lastSeq, Number(String((args as unknown[])[1])));
        if (name === 'chatMessage') this.rooms.onMessage(args[0] as ChatMessageOf<M>);
        else if (name === 'channelMessage') this.channels.onMessage(args[0] as ChannelMessage);
        else this.events.emit(name, ...args);
        if (name === 'channelGap')
          this.channels.onGap(String(args[0]), Number(String(args[1])), Number(String(args[2])));
        if (name === 'channelClosed') this.channels.onClosed(String(args[0]));
        if (name === 'brokerDraining') void this.leaveDrainingBroker(String(args[0]));
      };
    return Object.fromEntries(PUSH_NAMES.map((n) => [n, forward(n)])) as unknown as Events.IHandler;
  }

  /**
   * The broker asked us to move: hold new calls, let the ones in flight finish (their replies and
   * the pushes sent before them arrive here), then drop it; the reconnect loop goes elsewhere
   * (the draining broker is avoided) and resumes, and the held calls go out there.
   */
  private async leaveDrainingBroker(reason: string): Promise<void> {
    const t = this.conn.current;
    if (!t || this.reconnecting || this.closed) return;
    this.conn.hold();
    await this.conn.whenSentSettled(this.opts.callTimeoutMs ?? 10_000);
    if (this.conn.current === t) this.conn.drop(`broker draining: ${reason}`);
  }

  private onDrop(reason: string, lost: Transport): void {
    if (this.closed || this.reconnecting) return; // the reconnect loop owns drops it causes
    // kicked: the server ended this session here on purpose (e.g. it was resumed elsewhere)
    const willReconnect = this.opts.reconnect !== false && !this.kicked;
    this.events.emit('disconnected', { reason, endpoint: lost.endpoint, willReconnect });
    if (!willReconnect) {
      this.close();
      return;
    }
    void this.reconnect(lost.endpoint);
  }

  private async reconnect(previous: string): Promise<void> {
    this.reconnecting = true;
    const avoid = new Set([previous]);
    const limit = this.opts.maxReconnectAttempts ?? Infinity;
    let lastError = '';
    for (let attempt = 1; attempt <= limit && !this.closed; attempt++) {
      // even the first attempt waits a random fraction of the minimum delay: clients of a dead
      // broker spread their BrokerList fetches and connects instead of arriving all at once
      await this.backoff(attempt - 1);
      if (this.closed) break;
      let endpoint = '';
      try {
        endpoint = (await this.open(avoid)).endpoint;
        const { session, resumeError } = await this.resume();
        this.reconnecting = false;
        this.conn.release();
        // The broker restored the session's rooms before answering the resume: catch them up.
        if (session) this.rooms.resumed();
        else this.rooms.forget();
        // The new broker has none of the session's channel subscriptions: make them again.
        if (session) this.channels.resumed();
        else this.channels.forget();
        const info: ReconnectInfo = { endpoint, previous, attempts: attempt, session, resumeError };
        this.events.emit('reconnected', this.out(info) as ReconnectInfo);
        return;
      } catch (err) {
        lastError = (err as Error).message;
        if (endpoint) avoid.add(endpoint);
        this.conn.drop(`reconnect attempt failed: ${lastError}`);
      }
    }
    this.reconnecting = false;
    if (this.closed) return;
    this.conn.failQueued(
      (rec) =>
        new ClientError(
          'CLOSED',
          `${rec.name}: gave up reconnecting after ${limit} attempts (${lastError}); it was never sent`,
        ),
    );
    this.events.emit('disconnected', {
      reason: `gave up reconnecting: ${lastError}`,
      endpoint: previous,
      willReconnect: false,
    });
    this.close();
  }

  /**
   * Sso:resume(token) ahead of every queued call. A refusal by the server (expired, revoked)
   * forgets the session and is reported, not retried; a transport or transient broker failure
   * throws so the reconnect loop tries again.
   */
  private async resume(): Promise<{ session?: Session; resumeError?: Error }> {
    const token = this.currentSession?.token;
    if (token === undefined) return {};
    try {
      const session = await this.conn.withPriority(() => this.rawSso.resume(token));
      await this.conn.withPriority(() => this.rawEvents.subscribe(new Int64(this.lastSeq)));
      return { session };
    } catch (err) {
      const code = errorCode(err);
      if (err instanceof ClientError || (code !== undefined && TRANSIENT_BROKER_CODES.has(code))) throw err;
      this.currentSession = undefined;
      return { resumeError: err as Error };
    }
  }

  /** Full-jitter exponential backoff, cut short by close(). */
  private backoff(failures: number): Promise<void> {
    const { min, max } = this.opts.reconnectDelayMs ?? { min: 100, max: 5000 };
    const ms = Math.random() * Math.min(max, min * 2 ** Math.min(failures, 20));
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeBackoff = done;
    });
  }

  /** A broker that went silent (SIGSTOP, half-open TCP) is only noticed by asking it something. */
  private keepAliveTick(every: number): void {
    if (this.pinging || !this.connected || this.conn.idleMs < every) return;
    this.pinging = true;
    this.rawSso.ping().then(
      () => (this.pinging = false),
      (err: unknown) => {
        this.pinging = false;
        if (errorCode(err) === 'TIMEOUT' && err instanceof ClientError) this.conn.drop('no reply to a keep-alive ping');
      },
    );
  }
}
