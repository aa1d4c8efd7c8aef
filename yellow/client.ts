/**
 * Yellow's client, for providers (register, heartbeat, deregister) and consumers (query, watch).
 *
 * Provider side: the registration goes to every configured Yellow over its own DEALER, and
 * heartbeats follow twice per heartbeatMs, sent by the process's heartbeat thread (beat-thread.ts)
 * so a blocked main loop does not silence them (from the main loop until that thread runs). A
 * Yellow that answers `unknown` (it restarted or expired us) gets the registration again, with
 * the draining flag Yellow last reported, so a restarted Yellow keeps an operator's drain; a
 * Yellow that is down is simply retried on the next beat.
 * Nothing here waits on a Yellow in a way that can pile up: one outstanding request per op per
 * Yellow, each with a deadline.
 */
import { NoonError } from '../shared/errors';
import type { Logger } from '../shared/log';
import { BeatThread } from './beat-thread';
import type { BeatReport } from './beat-protocol';
import type { Directory } from './directory';
import { YellowLink } from './link';
import type { RegistryFilter } from './registry';
import type { InstanceLoad, InstanceRecord, InstanceRegistration, YellowEvent } from './types';
import type { Config } from '../shared/config';
import { registrationProof, yellowKeyOf, type CurveKeys } from '../shared/curve';
import { validateRegistration } from './validate';
import { Watcher, type WatcherStats } from './watcher';

export interface YellowClientOptions {
  /** Yellow ROUTER endpoints, tcp://host:port */
  endpoints: string[];
  heartbeatMs: number;
  missLimit?: number;
  logger: Logger;
  /** deadline of one query/drain/deregister round; default max(heartbeatMs, 1000) */
  queryTimeoutMs?: number;
  /** this process's role keys, when the internal plane uses CURVE */
  curve?: CurveKeys;
  /** a watcher resyncs every Yellow at least this often (ms); default 30000 */
  resyncMs?: number;
  /** heartbeats stop when the main loop made no progress for this long (ms); default 10000 */
  stallLimitMs?: number;
  /** heartbeats from the main loop only, no heartbeat thread (for the bench's many registrants) */
  mainThreadBeats?: boolean;
  /** test seam: the watcher drops events for which this returns true, as if its SUB lost them */
  dropEventForTest?: (ev: YellowEvent) => boolean;
}

interface ProviderState {
  reg: InstanceRegistration;
  /** per link: the epoch that Yellow gave us, undefined until it acknowledged a registration */
  epochs: Array<number | undefined>;
  /** per link: the draining flag that Yellow last reported */
  draining: Array<boolean | undefined>;
  timer: NodeJS.Timeout;
  /** a refusal (FORBIDDEN) is logged once, not on every retry */
  refusalLogged?: boolean;
  /** the heartbeat thread and this provider's key in it */
  thread?: { beats: BeatThread; key: string };
}

export const DEFAULT_RESYNC_MS = 30_000;
export const DEFAULT_STALL_LIMIT_MS = 10_000;

export class YellowClient {
  /** The client a process builds from its config: the configured Yellows and heartbeat (keys in `extra`). */
  static fromConfig(cfg: Config, logger: Logger, extra: Partial<YellowClientOptions> = {}): YellowClient {
    return new YellowClient({
      endpoints: cfg.yellow,
      heartbeatMs: cfg.heartbeatMs,
      resyncMs: cfg.yellowResyncMs,
      stallLimitMs: cfg.loopStallLimitMs,
      logger,
      ...extra,
    });
  }

  private readonly links: YellowLink[];
  private readonly logger: Logger;
  private readonly queryTimeoutMs: number;
  private provider?: ProviderState;
  private watcher?: Watcher;
  private started = false;

  constructor(private readonly opts: YellowClientOptions) {
    if (opts.endpoints.length === 0)
      throw new NoonError('BAD_REQUEST', 'YellowClient needs at least one Yellow endpoint');
    this.logger = opts.logger;
    this.queryTimeoutMs = opts.queryTimeoutMs ?? Math.max(opts.heartbeatMs, 1000);
    this.links = opts.endpoints.map((e) => new YellowLink(e, opts.logger, opts.curve));
  }

  start(): Promise<void> {
    if (!this.started) for (const link of this.links) link.start();
    this.started = true;
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    if (this.provider) this.endProvider(this.provider);
    this.provider = undefined;
    await this.watcher?.stop();
    this.watcher = undefined;
    await Promise.all(this.links.map((l) => l.stop()));
  }

  /**
   * Registers with every Yellow and keeps heartbeating until deregister()/stop(). Resolves once
   * one Yellow acknowledged; rejects (UNAVAILABLE) if none did within queryTimeoutMs, but keeps
   * trying in the background either way, so a caller may log the rejection and carry on.
   */
  async register(reg: InstanceRegistration): Promise<void> {
    const clean = validateRegistration(this.withProof(reg));
    await this.start();
    if (this.provider) this.endProvider(this.provider);
    // Twice per interval: registration retries, and heartbeats while the heartbeat thread is not running.
    const timer = setInterval(() => this.beat(), Math.max(1, Math.floor(this.opts.heartbeatMs / 2)));
    const state: ProviderState = {
      reg: clean,
      epochs: this.links.map(() => undefined),
      draining: this.links.map(() => undefined),
      timer,
    };
    this.provider = state;
    if (!this.opts.mainThreadBeats) this.startThread(state);
    const attempts = this.links.map((_, i) => this.registerOn(i, state));
    await this.firstSuccess(attempts, 'register');
  }

  /** With CURVE, a registration carries our key and the proof that we hold its secret. */
  private withProof(reg: InstanceRegistration): InstanceRegistration {
    const keys = this.opts.curve;
    if (!keys) return reg;
    const proof = registrationProof(keys, yellowKeyOf(keys), reg.instanceId, reg.role);
    return { ...reg, curveKey: keys.publicKey, proof };
  }

  /** The load sent with the next heartbeat (and with any re-registration). */
  setLoad(load: InstanceLoad): void {
    const state = this.provider;
    if (!state) return;
    state.reg.load = { ...load };
    state.thread?.beats.load(state.thread.key, state.reg.load);
  }

  /** Whether at least one Yellow has acknowledged this provider's registration (and not forgotten it since). */
  get registered(): boolean {
    return this.provider?.epochs.some((e) => e !== undefined) === true;
  }

  /** The draining flag this provider re-asserts when it registers (what its Yellows last reported). */
  get draining(): boolean {
    return this.provider?.reg.draining === true;
  }

  /** What the watcher did so far (undefined before watch()). */
  watchStats(): Readonly<WatcherStats> | undefined {
    return this.watcher?.stats;
  }

  /** Bytes this client received from Yellow: replies on its links plus events on its watcher's SUBs. */
  bytesReceived(): number {
    return this.links.reduce((n, l) => n + l.bytesReceived, 0) + (this.watcher?.stats.eventBytes ?? 0);
  }

  /** Best effort: tells every Yellow we are leaving, waits at most queryTimeoutMs. */
  async deregister(): Promise<void> {
    const state = this.provider;
    if (!state) return;
    this.endProvider(state);
    this.provider = undefined;
    const req = { op: 'deregister' as const, instanceId: state.reg.instanceId };
    await Promise.allSettled(this.links.map((l) => l.request<'deregister'>(req, this.queryTimeoutMs)));
  }

  /** Operator op: marks an instance draining (or not) on every Yellow; resolves if any Yellow knew it. */
  async drain(instanceId: string, draining: boolean): Promise<void> {
    await this.start();
    const req = { op: 'drain' as const, instanceId, draining };
    const key = `drain:${instanceId}:${draining}`;
    const results = await Promise.allSettled(this.links.map((l) => l.request<'drain'>(req, this.queryTimeoutMs, key)));
    if (results.some((r) => r.status === 'fulfilled' && r.value.found)) return;
    if (results.some((r) => r.status === 'fulfilled'))
      throw new NoonError('NOT_FOUND', `no Yellow knows instance ${instanceId}`);
    throw new NoonError(
      'UNAVAILABLE',
      `no Yellow answered drain within ${this.queryTimeoutMs} ms (${this.opts.endpoints.join(', ')})`,
    );
  }

  /**
   * Asks every Yellow at once and returns the first answer from a Yellow that is not warming up,
   * preferring earlier endpoints only by arrival. If every answer comes from a warming-up Yellow,
   * returns their union. Rejects with UNAVAILABLE if none answers within queryTimeoutMs.
   */
  async query(filter?: RegistryFilter): Promise<InstanceRecord[]> {
    await this.start();
    const started = Date.now();
    const req = filter ? { op: 'query' as const, filter } : { op: 'query' as const };
    const key = `query:${JSON.stringify(filter ?? {})}`;
    const asks = this.links.map((l) => l.request<'query'>(req, this.queryTimeoutMs, key));
    const warming: InstanceRecord[][] = [];
    const first = await new Promise<InstanceRecord[] | undefined>((resolve) => {
      let left = asks.length;
      const done = (): void => {
        if (--left === 0) resolve(warming.length > 0 ? unionOf(warming) : undefined);
      };
      for (const ask of asks) {
        ask.then((a) => (a.warmingUp ? warming.push(a.instances) : resolve(a.instances))).then(done, done);
      }
    });
    if (first) return first;
    throw new NoonError(
      'UNAVAILABLE',
      `no Yellow answered query within ${Date.now() - started} ms (${this.opts.endpoints.join(', ')})`,
    );
  }

  /**
   * Starts (once) a Directory kept current from every Yellow. Resolves after the first poll round,
   * even if no Yellow answered (the table is then empty and fills when one does).
   */
  async watch(): Promise<Directory> {
    await this.start();
    if (!this.watcher) {
      this.watcher = new Watcher({
        links: this.links,
        heartbeatMs: this.opts.heartbeatMs,
        queryTimeoutMs: this.queryTimeoutMs,
        resyncMs: this.opts.resyncMs ?? DEFAULT_RESYNC_MS,
        logger: this.logger,
        ...(this.opts.curve ? { curve: this.opts.curve } : {}),
        ...(this.opts.dropEventForTest ? { dropEvent: this.opts.dropEventForTest } : {}),
      });
      await this.watcher.start();
    }
    return this.watcher.directory;
  }

  private startThread(state: ProviderState): void {
    const beats = BeatThread.get(this.logger);
    const provider = {
      instanceId: state.reg.instanceId,
      endpoints: this.opts.endpoints,
      heartbeatMs: this.opts.heartbeatMs,
      stallLimitMs: this.opts.stallLimitMs ?? DEFAULT_STALL_LIMIT_MS,
      load: state.reg.load,
      ...(this.opts.curve
        ? {
            curve: {
              publicKey: this.opts.curve.publicKey,
              secretKey: this.opts.curve.secretKey,
              serverKey: yellowKeyOf(this.opts.curve),
            },
          }
        : {}),
    };
    state.thread = { beats, key: beats.add(provider, (r) => this.onThreadReport(state, r)) };
  }

  private endProvider(state: ProviderState): void {
    clearInterval(state.timer);
    if (state.thread) state.thread.beats.remove(state.thread.key);
    state.thread = undefined;
  }

  private onThreadReport(state: ProviderState, r: BeatReport): void {
    if (this.provider !== state) return;
    switch (r.t) {
      case 'unknown':
        if (state.epochs[r.link] === r.epoch) this.forgotten(r.link, state);
        return;
      case 'draining':
        this.noteDraining(state, r.link, r.draining);
        return;
      case 'hung':
        this.logger.error(
          { stalledMs: r.stalledMs },
          'main event loop hung: heartbeats stopped, Yellow will expire us',
        );
        return;
      case 'ready':
        return;
    }
  }

  /** A Yellow no longer knows us: register there again, now. */
  private forgotten(i: number, state: ProviderState): void {
    this.logger.info({ yellow: this.links[i]?.endpoint }, 'yellow does not know us; registering again');
    state.epochs[i] = undefined;
    state.thread?.beats.registered(state.thread.key, i, undefined);
    void this.registerOn(i, state).catch(() => undefined);
  }

  /** Any Yellow reporting us draining makes our registrations claim it. */
  private noteDraining(state: ProviderState, i: number, draining: boolean): void {
    state.draining[i] = draining;
    if (state.draining.some((d) => d === true)) state.reg.draining = true;
    else delete state.reg.draining;
  }

  private beat(): void {
    const state = this.provider;
    if (!state) return;
    const threadBeats = state.thread?.beats.ready === true;
    state.epochs.forEach((epoch, i) => {
      if (epoch === undefined) void this.registerOn(i, state).catch(() => undefined);
      else if (!threadBeats) this.heartbeatOn(i, state, epoch);
    });
  }

  private heartbeatOn(i: number, state: ProviderState, epoch: number): void {
    const link = this.links[i];
    if (!link || link.busy('heartbeat')) return;
    const req = { op: 'heartbeat' as const, instanceId: state.reg.instanceId, load: state.reg.load };
    link.request<'heartbeat'>(req, this.opts.heartbeatMs).then(
      (r) => {
        if (this.provider !== state || state.epochs[i] !== epoch) return;
        if (r.status === 'unknown') this.forgotten(i, state);
        else if (r.draining !== undefined) this.noteDraining(state, i, r.draining);
      },
      (e: unknown) => this.logger.debug({ err: e, yellow: link.endpoint }, 'heartbeat not answered'),
    );
  }

  private async registerOn(i: number, state: ProviderState): Promise<number> {
    const link = this.links[i];
    if (!link) throw new NoonError('INTERNAL', `no link ${i}`);
    try {
      const r = await link.request<'register'>({ op: 'register', reg: state.reg }, this.queryTimeoutMs);
      if (this.provider === state) {
        state.epochs[i] = r.epoch;
        state.thread?.beats.registered(state.thread.key, i, r.epoch);
      }
      this.logger.info({ yellow: link.endpoint, epoch: r.epoch }, 'registered with yellow');
      return r.epoch;
    } catch (e) {
      if (e instanceof NoonError && e.code === 'FORBIDDEN') {
        if (!state.refusalLogged)
          this.logger.error({ err: e.message, yellow: link.endpoint }, 'yellow refused the registration; retrying');
        state.refusalLogged = true;
      } else
        this.logger.debug({ err: e, yellow: link.endpoint }, 'registration not acknowledged; retrying on next beat');
      throw e;
    }
  }

  private async firstSuccess(attempts: Array<Promise<number>>, what: string): Promise<void> {
    try {
      await Promise.any(attempts);
    } catch (err) {
      // A refusal says more than a timeout.
      const refused = (err as AggregateError).errors?.find((e) => e instanceof NoonError && e.code === 'FORBIDDEN');
      if (refused) throw refused as NoonError;
      throw new NoonError(
        'UNAVAILABLE',
        `no Yellow acknowledged ${what} within ${this.queryTimeoutMs} ms (${this.opts.endpoints.join(', ')}); still retrying`,
      );
    }
  }
}

/** Merges answers; an instance seen twice keeps the first record. */
function unionOf(lists: InstanceRecord[][]): InstanceRecord[] {
  const byId = new Map<string, InstanceRecord>();
  for (const r of lists.flat()) if (!byId.has(r.instanceId)) byId.set(r.instanceId, r);
  return [...byId.values()];
}
