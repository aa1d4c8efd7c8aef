/**
 * One simulated player: connects through the BrokerList, registers (a username unique to this
 * run) or logs in, joins one chat room, lists its units, then loops — pick an action by weight,
 * make its calls through the SDK (mutations with fresh idempotency keys), think — until the run
 * says stop. Every call goes through `call()`, which records its latency and outcome in Stats.
 *
 * The SDK's own reconnect and keep-alive are off: they would send Sso:resume and Sso:ping that
 * this process did not count, and the report must account for every call a broker counted. A
 * player whose connection drops reconnects itself and resumes its session (counted like any call),
 * at most MAX_RECONNECTS times.
 */
import { NoonClient, type NoonClientOptions, type TransportKind } from '../client';
import type { Session, Unit } from '../shared/protocol';
import type { Funds, UnitState } from './progression';
import { runAction, type ActionEnv } from './actions';
import { pickAction, type Scenario } from './scenario';
import { classify, type Stats } from './stats';

const MAX_RECONNECTS = 5;
/** Calls after which the SDK itself calls Events:subscribe (docs/pushes.md), inside the same promise. */
const SUBSCRIBING_CALLS = new Set(['Sso:register', 'Sso:login', 'Sso:resume', 'Sso:loginDevice']);
/** A player never makes more than this many actions, whatever the scenario says (a bound on the loop). */
const MAX_ACTIONS_PER_PLAYER = 10_000_000;

/** Opens one client; `localAddress` is the socket's source address when the run spreads over several. */
export type ClientFactory = (
  brokerListUrl: string,
  opts: NoonClientOptions,
  localAddress?: string,
) => Promise<NoonClient>;

export const sdkFactory: ClientFactory = (url, opts, localAddress) => {
  return NoonClient.viaBrokerList(url, localAddress === undefined ? opts : { ...opts, localAddress });
};

export interface PlayerEnv {
  scenario: Scenario;
  stats: Stats;
  brokerListUrl: string;
  transport: TransportKind;
  /** PEM CA for tls/wss and an https BrokerList; default the system store */
  ca?: Buffer;
  /** unique per run: usernames and idempotency keys carry it */
  runId: string;
  factory: ClientFactory;
  /** source addresses, player i uses [i % n]; empty = the OS picks */
  sources: string[];
  /** false once the run is over (duration reached, action budget spent, or stopped) */
  running(): boolean;
  /** takes one action from the run's budget; false when it is spent */
  takeAction(): boolean;
  /** resolves after `ms` or at once when the run stops */
  sleep(ms: number): Promise<void>;
  /** connection problems that are not calls (BrokerList down, connect refused) */
  onConnectFailure(err: Error): void;
  /** runs a sign-in when it is this player's turn (a few at a time) */
  signInTurn<T>(fn: () => Promise<T>): Promise<T>;
  random(): number;
}

/** `late`: the run ended before this player's turn to sign in came (sign-ins are paced) */
export type PlayerState = 'starting' | 'playing' | 'done' | 'failed' | 'late';

export class SimPlayer {
  state: PlayerState = 'starting';
  private client?: NoonClient;
  private lost = false;
  private session?: Session;
  private seq = 0;
  private reconnects = 0;
  /** a sign-in call was made (not only waited for) */
  private tried = false;
  readonly username: string;
  readonly room: string;
  units: UnitState[] = [];
  funds: Funds | undefined;

  constructor(
    private readonly env: PlayerEnv,
    readonly index: number,
  ) {
    this.username = `${env.scenario.accounts.prefix}_${env.runId}_${index}`;
    this.room = `lt-${env.runId}-${index % env.scenario.chat.rooms}`;
  }

  /** Plays until the run stops; never throws. */
  async run(): Promise<void> {
    try {
      // connect only when it is this player's turn to sign in: a connection that waited would
      // meet the broker's login deadline first
      const signedIn = await this.env.signInTurn(async () => {
        if (!this.env.running()) return false;
        this.tried = true;
        return (await this.connect()) && (await this.signIn());
      });
      if (!signedIn) {
        this.state = this.tried ? 'failed' : 'late';
        return;
      }
      await this.call('Chat:join', (c) => c.chat.join(this.room));
      const units = await this.call('Player:listUnits', (c) => c.player.listUnits());
      this.units = [];
      for (const u of units ?? []) this.noteUnit(u);
      this.state = 'playing';
      await this.loop();
      this.state = 'done';
    } catch (err) {
      this.env.onConnectFailure(err as Error);
      this.state = 'failed';
    } finally {
      this.client?.close();
      this.client = undefined;
    }
  }

  /** What the game said a unit is now (listUnits, or a levelUp/evolve reply). */
  noteUnit(u: Unit): void {
    const unitId = u.unitId ?? '';
    if (unitId === '') return;
    const state = { unitId, level: u.level ?? 1, stars: u.stars ?? 1 };
    const i = this.units.findIndex((x) => x.unitId === unitId);
    if (i === -1) this.units.push(state);
    else this.units[i] = state;
  }

  /** A fresh idempotency key, unique to this run, player and call. */
  key(): string {
    return `${this.env.runId}:${this.index}:${++this.seq}`;
  }

  /**
   * One call: counted as issued, timed, classified. Resolves with the value, or undefined on any
   * error (the error is recorded, never thrown).
   */
  async call<T>(method: string, fn: (c: NoonClient) => Promise<T>): Promise<T | undefined> {
    const c = this.client;
    if (!c || this.lost) return undefined;
    const stats = this.env.stats;
    const t0 = performance.now();
    stats.begin();
    try {
      const v = await fn(c);
      stats.end(method, t0, { kind: 'ok', code: '' });
      if (SUBSCRIBING_CALLS.has(method)) {
        // the SDK's own call, which the brokers count too
        stats.begin();
        stats.end('Events:subscribe', t0, { kind: 'ok', code: '' });
      }
      return v;
    } catch (err) {
      const o = classify(err);
      stats.end(method, t0, o);
      if (o.kind === 'disconnect' || o.code === 'CLOSED') this.lost = true;
      return undefined;
    }
  }

  /** The current client (for push subscriptions); undefined while disconnected. */
  get current(): NoonClient | undefined {
    return this.lost ? undefined : this.client;
  }

  private async loop(): Promise<void> {
    const { scenario, random } = this.env;
    const actionEnv: ActionEnv = {
      scenario,
      player: this,
      random: () => random(),
      sleep: (ms) => this.env.sleep(ms),
      running: () => this.env.running(),
    };
    for (let i = 0; i < MAX_ACTIONS_PER_PLAYER && this.env.running(); i++) {
      if (this.lost && !(await this.recover())) return;
      if (!this.env.takeAction()) return;
      await runAction(pickAction(scenario.mix, random()), actionEnv);
      const { min, max } = scenario.thinkTimeMs;
      await this.env.sleep(min + random() * (max - min));
    }
  }

  private async connect(): Promise<boolean> {
    const { scenario, transport, brokerListUrl, ca } = this.env;
    try {
      const source = this.env.sources[this.index % Math.max(1, this.env.sources.length)];
      const c = await this.env.factory(
        brokerListUrl,
        {
          transport,
          ...(ca !== undefined ? { ca } : {}),
          callTimeoutMs: scenario.callTimeoutMs,
          reconnect: false,
          keepAliveMs: 0,
          // every call is the load test's own, so sent = counted by the brokers holds
          roomCatchUp: false,
        },
        source,
      );
      c.on('disconnected', () => (this.lost = true));
      for (const name of [
        'duelUpdated',
        'matchFound',
        'chatMessage',
        'walletChanged',
        'stateLost',
        'roomClosed',
        'kicked',
      ] as const) {
        c.on(name, () => this.env.stats.push(name));
      }
      // the wallet a player sees: what it can afford next (loadtest/progression.ts)
      c.on('walletChanged', (w) => {
        this.funds = { soft: Number(w.soft?.toString() ?? 0), hard: Number(w.hard?.toString() ?? 0) };
      });
      this.client = c;
      this.lost = false;
      return true;
    } catch (err) {
      this.env.onConnectFailure(err as Error);
      return false;
    }
  }

  /** Logs in (mode 'login', or an account this run already made), else registers. */
  private async signIn(): Promise<boolean> {
    const { mode, password } = this.env.scenario.accounts;
    const exists = this.session !== undefined;
    this.session = undefined;
    if (mode === 'login' || exists)
      this.session = await this.call('Sso:login', (c) => c.sso.login(this.username, password));
    if (!this.session && !exists)
      this.session = await this.call('Sso:register', (c) => c.sso.register(this.username, password));
    return this.session !== undefined;
  }

  /** After a drop: a new connection, then Sso:resume with the session token (or a login). */
  private async recover(): Promise<boolean> {
    this.client?.close();
    this.client = undefined;
    while (this.reconnects < MAX_RECONNECTS && this.env.running()) {
      this.reconnects++;
      if (!(await this.connect())) {
        await this.env.sleep(100 * 2 ** this.reconnects);
        continue;
      }
      const token = this.session?.token ?? '';
      const resumed = await this.call('Sso:resume', (c) => c.sso.resume(token));
      if (resumed) this.session = resumed;
      else if (!(await this.env.signInTurn(() => this.signIn()))) return false;
      await this.call('Chat:join', (c) => c.chat.join(this.room));
      return !this.lost;
    }
    return false;
  }
}
