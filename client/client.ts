/**
 * NoonClient: one connection to a broker with typed calls, pushes, and session resume.
 *
 *   const c = await NoonClient.viaBrokerList('http://127.0.0.1:7780/brokers');
 *   await c.sso.login('ann', 'pw-ann-123');
 *   c.on('walletChanged', (w) => ...);
 *   const wallet = await c.player.getWallet();
 *
 * When the connection drops, calls in flight reject with CONNECTION_LOST (outcome unknown) and
 * the client reconnects by itself: BrokerList again (the lost broker goes last), connect, then
 * Sso:resume(token) before anything else; calls made meanwhile wait, each up to its own deadline.
 */
import type { Logger } from '../shared/log';
import { Chat, Duel, type Events, Leaderboard, Player, type Session, type Sso } from '../shared/protocol';
import type { DecodeCaps } from '../shared/thrift/capped';
import type { ThriftProtocol } from '../shared/thrift/header';
import { fetchBrokers, rankBrokers, endpointOf, type TransportKind } from './brokerlist';
import { CLIENT_CAPS, Connection } from './connection';
import { ClientError, errorCode } from './errors';
import { dispatchPush, PUSH_NAMES, TypedEmitter, type ClientEvents } from './events';
import { sessionTrackingSso } from './session';
import type { Transport } from './transports';

export interface NoonClientOptions {
  /** Thrift protocol of calls; default 'compact' */
  protocol?: ThriftProtocol;
  /** default 'tcp'; with a BrokerList, picks the brokers' tcp or ws endpoints */
  transport?: TransportKind;
  /** deadline of each call; default 10 000 ms */
  callTimeoutMs?: number;
  /** deadline to open a connection; default 5000 ms */
  connectTimeoutMs?: number;
  /** deadline of a BrokerList request; default 5000 ms */
  brokerListTimeoutMs?: number;
  /** reconnect when the connection drops; default true */
  reconnect?: boolean;
  /** backoff between failed reconnect attempts (the first attempt is immediate); default 100..5000 ms, jittered */
  reconnectDelayMs?: { min: number; max: number };
  /** give up after this many failed attempts in a row (queued calls then fail CLOSED); default unlimited */
  maxReconnectAttempts?: number;
  /** Sso:ping when nothing arrived for this long; no answer within callTimeoutMs = reconnect. 0 = off; default 15 000 ms */
  keepAliveMs?: number;
  /** largest reply frame accepted; default 4 MiB */
  maxFrame?: number;
  /** bytes waiting in the socket's write buffer before calls fail BUSY; default 1 MiB */
  maxBufferedBytes?: number;
  /** source address of the connection (e.g. 127.0.0.2, to exceed one address's ports); default: the OS picks */
  localAddress?: string;
  /** calls that may wait for a reconnect before new ones fail BUSY; default 1024 */
  maxQueuedCalls?: number;
  caps?: DecodeCaps;
  /** where listener errors and undecodable pushes are reported; default: nowhere */
  logger?: Logger;
}

type Target = { kind: 'brokerlist'; url: string } | { kind: 'fixed'; endpoint: string };

/** Calls whose rejection means the broker said no to the resume, not that the connection is bad. */
const TRANSIENT_BROKER_CODES = new Set(['UNAVAILABLE', 'BUSY', 'TIMEOUT', 'RATE_LIMITED']);

export class NoonClient {
  readonly sso: Sso.Client;
  readonly player: Player.Client;
  readonly duel: Duel.Client;
  readonly chat: Chat.Client;
  readonly leaderboard: Leaderboard.Client;
  private readonly conn: Connection;
  private readonly events: TypedEmitter<ClientEvents>;
  private readonly transportKind: TransportKind;
  private currentSession?: Session;
  private closed = false;
  private kicked = false;
  private reconnecting = false;
  private keepAlive?: NodeJS.Timeout;
  private pinging = false;
  private wakeBackoff?: () => void;

  /** Looks up the BrokerList and connects to the lowest-load broker that answers. */
  static async viaBrokerList(url: string, opts: NoonClientOptions = {}): Promise<NoonClient> {
    return new NoonClient({ kind: 'brokerlist', url }, opts).start();
  }

  /** Connects to one broker; reconnects go to the same endpoint. */
  static async connect(target: { tcp: string } | { ws: string }, opts: NoonClientOptions = {}): Promise<NoonClient> {
    const transport: TransportKind = 'tcp' in target ? 'tcp' : 'ws';
    const endpoint = 'tcp' in target ? target.tcp : target.ws;
    return new NoonClient({ kind: 'fixed', endpoint }, { ...opts, transport }).start();
  }

  private constructor(
    private readonly target: Target,
    private readonly opts: NoonClientOptions,
  ) {
    this.transportKind = opts.transport ?? 'tcp';
    this.events = new TypedEmitter((event, err) => opts.logger?.warn({ err, event }, 'noon client listener threw'));
    const caps = opts.caps ?? CLIENT_CAPS;
    const handler = this.pushHandler();
    this.conn = new Connection({
      protocol: opts.protocol ?? 'compact',
      callTimeoutMs: opts.callTimeoutMs,
      caps,
      maxQueued: opts.maxQueuedCalls,
      onPush: (bytes) => {
        const err = dispatchPush(bytes, caps, handler);
        if (err) opts.logger?.warn({ err }, 'noon client dropped a push');
      },
      onDrop: (reason, t) => this.onDrop(reason, t),
    });
    this.sso = this.conn.client(
      sessionTrackingSso((s) => (this.currentSession = s)),
      'Sso',
    );
    this.player = this.conn.client(Player.Client, 'Player');
    this.duel = this.conn.client(Duel.Client, 'Duel');
    this.chat = this.conn.client(Chat.Client, 'Chat');
    this.leaderboard = this.conn.client(Leaderboard.Client, 'Leaderboard');
  }

  /** The session from the last register/login/resume; undefined before login and after logout. */
  get session(): Session | undefined {
    return this.currentSession;
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

  /** Subscribes to a push or connection event; returns an unsubscribe function. */
  on<K extends keyof ClientEvents>(event: K, fn: (...args: ClientEvents[K]) => void): () => void {
    return this.events.on(event, fn);
  }

  off<K extends keyof ClientEvents>(event: K, fn: (...args: ClientEvents[K]) => void): void {
    this.events.off(event, fn);
  }

  once<K extends keyof ClientEvents>(event: K, fn: (...args: ClientEvents[K]) => void): () => void {
    return this.events.once(event, fn);
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

  private async start(): Promise<this> {
    await this.open(new Set());
    this.conn.release();
    const every = this.opts.keepAliveMs ?? 15_000;
    if (every > 0) this.keepAlive = setInterval(() => this.keepAliveTick(every), Math.max(50, Math.floor(every / 3)));
    return this;
  }

  /** Connects to the first broker that answers, best first; the transport starts held. */
  private async open(avoid: ReadonlySet<string>): Promise<Transport> {
    const candidates = await this.candidates(avoid);
    const errors: string[] = [];
    for (const endpoint of candidates) {
      try {
        return await this.conn.connect(this.transportKind, endpoint, {
          hold: true,
          connectTimeoutMs: this.opts.connectTimeoutMs,
          maxFrame: this.opts.maxFrame,
          maxBufferedBytes: this.opts.maxBufferedBytes,
          ...(this.opts.localAddress ? { localAddress: this.opts.localAddress } : {}),
        });
      } catch (err) {
        if (this.closed) throw err;
        errors.push((err as Error).message);
      }
    }
    throw new ClientError('CONNECT', `no broker accepted a connection: ${errors.join('; ')}`);
  }

  private async candidates(avoid: ReadonlySet<string>): Promise<string[]> {
    if (this.target.kind === 'fixed') return [this.target.endpoint];
    const brokers = await fetchBrokers(this.target.url, { timeoutMs: this.opts.brokerListTimeoutMs });
    const ranked = rankBrokers(brokers, this.transportKind, avoid).map(
      (b) => endpointOf(b, this.transportKind) as string,
    );
    if (ranked.length === 0)
      throw new ClientError('BROKERLIST', `${this.target.url} lists no broker with a ${this.transportKind} endpoint`);
    return ranked;
  }

  /** Forwards every push to on() listeners; `kicked` also stops automatic reconnects. */
  private pushHandler(): Events.IHandler {
    const forward =
      <K extends keyof Events.IHandler>(name: K) =>
      (...args: ClientEvents[K]): void => {
        if (name === 'kicked') this.kicked = true;
        this.events.emit(name, ...args);
      };
    return Object.fromEntries(PUSH_NAMES.map((n) => [n, forward(n)])) as unknown as Events.IHandler;
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
      if (attempt > 1) await this.backoff(attempt - 1);
      if (this.closed) break;
      let endpoint = '';
      try {
        endpoint = (await this.open(avoid)).endpoint;
        const { session, resumeError } = await this.resume();
        this.reconnecting = false;
        this.conn.release();
        this.events.emit('reconnected', { endpoint, previous, attempts: attempt, session, resumeError });
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
      return { session: await this.conn.withPriority(() => this.sso.resume(token)) };
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
    this.sso.ping().then(
      () => (this.pinging = false),
      (err: unknown) => {
        this.pinging = false;
        if (errorCode(err) === 'TIMEOUT' && err instanceof ClientError) this.conn.drop('no reply to a keep-alive ping');
      },
    );
  }
}
