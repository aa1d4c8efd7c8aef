/**
 * Duel: a stateful service. The broker routes a session's Duel calls to one instance (rendezvous
 * hash of the session id, or the instance a reply bound it to). Matchmaking runs on one instance
 * (the owner of 'matchmaking'); other instances forward findMatch/cancelMatch to it. The
 * matchmaker creates the duel on itself and binds both sessions to itself, so every later call of
 * either player reaches the instance that holds the duel.
 */
import Int64 from 'node-int64';
import {
  Duel,
  DuelAction,
  DuelRecord,
  ErrorCode,
  GameError,
  MatchStatus,
  MatchTicket,
  Pong,
  type DuelState,
} from '../../shared/protocol';
import { events } from '../../shared/thrift/events';
import type { Db } from '../../shared/data/sql';
import type { CallContext, ServiceDef, ServiceEnv, ServiceModule } from '../../rpc/api';
import { Matchmaker } from './matchmaker';
import { duelMigrations } from './migrations';
import { Actions, type Action } from './rules';
import { historyOf } from './store';
import { DuelTable, toState, type Seat, type TableOptions } from './table';

export const MATCHMAKING_KEY = 'matchmaking';
export const MAX_STAKE = 1_000_000_000;
export const MAX_HISTORY = 100;

export interface DuelOptions extends TableOptions {
  /** a waiting player older than this is dropped from the queue (ms) */
  maxWaitMs: number;
}

/** Defaults; the turn timeout comes from config (--duel-turn-ms / NOON_DUEL_TURN_MS). */
export function duelOptions(turnMs = 10_000): DuelOptions {
  return { turnMs, keepFinishedMs: 60_000, settleAttempts: 5, settleRetryMs: 500, maxWaitMs: 60_000 };
}

function refuse(code: ErrorCode, message: string): GameError {
  return new GameError({ code, message, retryable: false });
}

function toAction(a: DuelAction | undefined): Action {
  if (a === DuelAction.DRAW) return Actions.DRAW;
  if (a === DuelAction.SHOOT) return Actions.SHOOT;
  throw refuse(ErrorCode.BAD_REQUEST, 'action must be DRAW or SHOOT');
}

function toStake(x: Int64): number {
  const n = Number(x.toString());
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_STAKE)
    throw refuse(ErrorCode.BAD_REQUEST, `stake must be an integer in 0..${MAX_STAKE}`);
  return n;
}

function loggedIn(ctx: CallContext): void {
  if (ctx.userId === '') throw refuse(ErrorCode.UNAUTHENTICATED, 'log in first');
}

class DuelService {
  private readonly mm: Matchmaker;
  readonly table: DuelTable;

  constructor(
    private readonly env: ServiceEnv,
    private readonly db: Db,
    opts: DuelOptions,
  ) {
    this.mm = new Matchmaker(opts.maxWaitMs);
    this.table = new DuelTable(env, db, opts, env.logger.child({ component: 'duel-table' }));
  }

  /** The call came straight from a broker (not forwarded by another service instance). */
  private brokerVia(ctx: CallContext): string | undefined {
    return this.env.directory.instances({ role: 'broker' }).some((r) => r.instanceId === ctx.via) ? ctx.via : undefined;
  }

  /**
   * The matchmaker to forward to, or undefined when this instance must answer: it is the owner,
   * or the call was already forwarded by a peer (two instances briefly disagreeing about the
   * owner must not bounce a call between them until its deadline).
   */
  private matchmakerElsewhere(ctx: CallContext): string | undefined {
    const owner = ctx.ownerOf(MATCHMAKING_KEY);
    if (owner === undefined || owner === this.env.instanceId) return undefined;
    const fromPeer = this.env.directory.instances({ role: this.env.role }).some((r) => r.instanceId === ctx.via);
    return fromPeer ? undefined : owner;
  }

  async findMatch(stakeArg: Int64, ctx: CallContext): Promise<MatchTicket> {
    loggedIn(ctx);
    const stake = toStake(stakeArg);
    const owner = this.matchmakerElsewhere(ctx);
    // Directives of the nested reply (the bind) ride on this reply to the broker.
    if (owner !== undefined) return ctx.servicesAt(owner).duel.findMatch(new Int64(stake));
    const me: Seat = {
      userId: ctx.userId,
      username: ctx.username || ctx.userId,
      sessionId: ctx.sessionId,
      via: this.brokerVia(ctx),
    };
    const other = this.mm.pairOrQueue({ ...me, stake, since: Date.now() }, Date.now());
    if (!other) return new MatchTicket({ status: MatchStatus.QUEUED, duelId: '', opponent: '' });
    const game = this.table.create(other, me, stake);
    ctx.bind();
    const bind = this.env.directives.bind(other.sessionId);
    this.table.pushTo(
      other,
      events.matchFound(new MatchTicket({ status: MatchStatus.MATCHED, duelId: game.id, opponent: me.userId })),
      [bind],
    );
    const first = events.duelUpdated(toState(game));
    this.table.pushTo(other, first);
    this.table.pushTo(me, first);
    ctx.log.info({ duel: game.id, players: game.players, stake }, 'match made');
    return new MatchTicket({ status: MatchStatus.MATCHED, duelId: game.id, opponent: other.userId });
  }

  async cancelMatch(ctx: CallContext): Promise<void> {
    loggedIn(ctx);
    const owner = this.matchmakerElsewhere(ctx);
    if (owner !== undefined) return ctx.servicesAt(owner).duel.cancelMatch();
    this.mm.cancel(ctx.sessionId);
  }

  getDuel(duelId: string, ctx: CallContext): DuelState {
    loggedIn(ctx);
    const game = this.table.get(duelId, ctx.userId);
    this.table.seen(duelId, ctx.userId, ctx.sessionId, this.brokerVia(ctx));
    return toState(game);
  }

  async act(duelId: string | undefined, action: DuelAction | undefined, ctx: CallContext): Promise<DuelState> {
    loggedIn(ctx);
    if (!duelId) throw refuse(ErrorCode.BAD_REQUEST, 'duelId is required');
    this.table.seen(duelId, ctx.userId, ctx.sessionId, this.brokerVia(ctx));
    return toState(await this.table.act(duelId, ctx.userId, toAction(action), ctx.services));
  }

  async history(limit: number, ctx: CallContext): Promise<DuelRecord[]> {
    loggedIn(ctx);
    if (!Number.isInteger(limit) || limit < 1) throw refuse(ErrorCode.BAD_REQUEST, 'limit must be at least 1');
    const rows = await historyOf(this.db, ctx.userId, Math.min(limit, MAX_HISTORY));
    return rows.map(
      (r) =>
        new DuelRecord({ duelId: r.id, winner: r.winner, loser: r.loser, reason: r.reason, endedAtMs: r.endedAtMs }),
    );
  }
}

export function duelService(
  env: ServiceEnv,
  db: Db,
  opts: DuelOptions = duelOptions(env.cfg.duelTurnMs),
): ServiceDef<Duel.IHandler> {
  const svc = new DuelService(env, db, opts);
  return {
    role: 'duel',
    thriftService: 'Duel',
    processor: Duel.Processor,
    stateful: true,
    publicMethods: ['ping'],
    idempotentMethods: ['getDuel', 'history', 'ping', 'cancelMatch'],
    handlers: {
      findMatch: (stake, ctx) => svc.findMatch(stake, ctx),
      cancelMatch: (ctx) => svc.cancelMatch(ctx),
      getDuel: (duelId, ctx) => svc.getDuel(duelId, ctx),
      act: (req, ctx) => svc.act(req.duelId, req.action, ctx),
      history: (limit, ctx) => svc.history(limit, ctx),
      ping: () => new Pong({ instance: env.instanceId, serviceName: 'Duel', serverTimeMs: Date.now() }),
    },
  };
}

/** The duel module with options (tests shorten the turn timeout). */
export function duelModuleWith(opts: Partial<DuelOptions> = {}): ServiceModule<Duel.IHandler> {
  return {
    role: 'duel',
    migrations: duelMigrations,
    build: (env, { db }) => duelService(env, db, { ...duelOptions(env.cfg.duelTurnMs), ...opts }),
  };
}

export const duelModule: ServiceModule<Duel.IHandler> = {
  role: 'duel',
  migrations: duelMigrations,
  build: (env, { db }) => duelService(env, db),
};
