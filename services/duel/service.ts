/**
 * Duel: a stateful service whose state is durable. The broker routes a session's Duel calls to
 * one instance (rendezvous hash of the session id, or the instance a reply bound it to).
 * Matchmaking runs on one instance (the owner of 'matchmaking'); other instances forward
 * findMatch/cancelMatch to it. Its queue is in Postgres (queue.ts), so the next owner carries on
 * with the same waiting players. The matchmaker creates the duel on itself and binds both
 * sessions to itself. Every live duel is also in Postgres (table.ts, games.ts): an instance that
 * gets a call for a duel another live instance holds forwards it there (and the reply binds the
 * session to the holder); one whose holder drained, stopped or died is taken over by the instance
 * the call reached, or by the sweep (keeper.ts), and continues there, timer included.
 *
 * Money: a match at stake S > 0 exists only once both stakes are in escrow at the player service
 * (`escrowStakes`, one transaction for both debits); the settlement outbox row is written before
 * that, so a duel whose escrow outcome is unknown, or whose instance dies, is refunded. The winner
 * is paid the escrow (2 × S) and nothing else; a duel with no winner refunds each stake.
 */
import { randomUUID } from 'node:crypto';
import Int64 from 'node-int64';
import {
  Duel,
  DuelAction,
  DuelActRequest,
  DuelRecord,
  ErrorCode,
  EscrowRequest,
  GameError,
  MatchStatus,
  MatchTicket,
  Pong,
  StateLostKind,
  type DuelState,
} from '../../shared/protocol';
import { events } from '../../shared/thrift/events';
import type { Db } from '../../shared/data/sql';
import type { CallContext, ServiceDef, ServiceEnv, ServiceModule } from '../../rpc/api';
import { DuelKeeper } from './keeper';
import type { Waiting } from './matchmaker';
import { duelMigrations } from './migrations';
import { MatchQueue } from './queue';
import { Actions, duelRules, type Action, type DuelRules } from './rules';
import { dropOpen, openSettlement, voidOpen } from './settlements';
import { Settler, type SettlerOptions } from './settler';
import { historyOf } from './store';
import { DuelMoved, DuelTable, toState, type Seat, type TableOptions } from './table';
import { duelAnalytics } from './analytics';

export const MATCHMAKING_KEY = 'matchmaking';
/**
 * The largest stake. The player service holds at most this per player (its MAX_STAKE), the payout
 * is 2 × MAX_STAKE, and a balance is a BIGINT read as an exact JS number: all far apart.
 */
export const MAX_STAKE = 1_000_000_000;
if (!Number.isSafeInteger(2 * MAX_STAKE)) throw new Error('2 × MAX_STAKE must be an exact integer');
export const MAX_HISTORY = 100;

export interface DuelOptions extends TableOptions, SettlerOptions {
  /** a waiting player older than this is dropped from the queue (ms) */
  maxWaitMs: number;
  /** a pairing whose escrow has not settled after this goes back to waiting (its matchmaker is stuck), ms */
  pairingLeaseMs: number;
}

/** Defaults; the turn timeout comes from config (--duel-turn-ms / NOON_DUEL_TURN_MS). */
export function duelOptions(turnMs = 10_000): DuelOptions {
  return {
    turnMs,
    rules: duelRules(),
    keepFinishedMs: 60_000,
    maxWaitMs: 60_000,
    pairingLeaseMs: 30_000,
    settleIntervalMs: 1000,
    settleBackoffMs: 500,
    settleMaxBackoffMs: 15_000,
    settleLeaseMs: 30_000,
    // a duel lasts at most about three turns (draw, draw, then a shot or the timeout)
    orphanAfterMs: 4 * turnMs + 60_000,
  };
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

function insufficient(message: string): GameError {
  return new GameError({ code: ErrorCode.INSUFFICIENT_FUNDS, message, retryable: false });
}

class DuelService {
  private readonly mm: MatchQueue;
  readonly table: DuelTable;
  readonly settler: Settler;
  readonly keeper: DuelKeeper;
  private readonly rules: DuelRules;

  constructor(
    private readonly env: ServiceEnv,
    private readonly db: Db,
    opts: DuelOptions,
  ) {
    this.rules = opts.rules;
    this.mm = new MatchQueue(db, env.instanceId, opts);
    this.table = new DuelTable(
      env,
      db,
      opts,
      env.logger.child({ component: 'duel-table' }),
      (id) => this.settler.kick(id),
      () => this.keeper.draining(),
    );
    this.settler = new Settler(env, db, opts, (id) => this.table.holds(id), env.logger.child({ component: 'settler' }));
    this.keeper = new DuelKeeper(
      env,
      db,
      this.table,
      this.mm,
      { intervalMs: opts.settleIntervalMs, keepFinishedMs: opts.keepFinishedMs },
      env.logger.child({ component: 'duel-keeper' }),
    );
  }

  /** The call was forwarded by another duel instance. */
  private fromPeer(ctx: CallContext): boolean {
    return this.env.directory
      .instances({ role: this.env.role, includeDraining: true })
      .some((r) => r.instanceId === ctx.via);
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
    return this.fromPeer(ctx) ? undefined : owner;
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
    // Nobody waits in a queue for a stake they cannot pay (the escrow checks again at the match).
    if (stake > 0) {
      const soft = Number((await ctx.services.player.getWallet()).soft?.toString() ?? 0);
      if (soft < stake) throw insufficient(`not enough soft for a stake of ${stake}: have ${soft}`);
    }
    // Each turn of the loop drops one opponent who could not pay, so it ends.
    for (;;) {
      const other = await this.mm.pairOrQueue({ ...me, stake, since: Date.now() }, Date.now());
      if (!other) return new MatchTicket({ status: MatchStatus.QUEUED, duelId: '', opponent: '' });
      const duelId = randomUUID();
      if (stake > 0 && !(await this.escrow(duelId, other, me, stake, ctx))) continue;
      const game = await this.start(duelId, other, me, stake, ctx);
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
  }

  /** The duel, durably; if it cannot be written, its stakes go back and the opponent waits again. */
  private async start(duelId: string, other: Waiting, me: Seat, stake: number, ctx: CallContext) {
    try {
      const game = await this.table.create(duelId, other, me, stake);
      await this.mm
        .matched(other)
        .catch((err: unknown) => ctx.log.warn({ err, duel: duelId }, 'pairing not cleared; the sweep puts it back'));
      return game;
    } catch (err) {
      await this.mm.putBack(other).catch(() => false);
      if (stake > 0) await this.voidEscrow(duelId, ctx, err);
      throw new GameError({
        code: ErrorCode.UNAVAILABLE,
        message: 'the duel could not start; try again',
        retryable: true,
      });
    }
  }

  /**
   * Takes both stakes into escrow for the duel. True when they are held. False when only the
   * waiting opponent could not pay: it is dropped (and told), and the caller may pair again.
   * Throws INSUFFICIENT_FUNDS when the caller cannot pay (the opponent goes back to its queue),
   * and UNAVAILABLE when the outcome is unknown (whatever was taken is refunded by the settler).
   */
  private async escrow(duelId: string, other: Waiting, me: Seat, stake: number, ctx: CallContext): Promise<boolean> {
    const players: [string, string] = [other.userId, me.userId];
    try {
      await openSettlement(this.db, {
        duelId,
        players,
        usernames: [other.username, me.username],
        stake,
        instanceId: this.env.instanceId,
      });
    } catch (err) {
      await this.mm.putBack(other).catch(() => false);
      throw err;
    }
    let held;
    try {
      held = await ctx.services.player.escrowStakes(new EscrowRequest({ duelId, userIds: players, amount: stake }));
    } catch (err) {
      await this.mm.putBack(other).catch(() => false);
      if (err instanceof GameError) {
        // A refusal: the escrow's transaction rolled back, nothing was taken.
        await dropOpen(this.db, duelId).catch((e: unknown) => ctx.log.warn({ err: e, duel: duelId }, 'drop failed'));
        throw err;
      }
      await this.voidEscrow(duelId, ctx, err);
      throw new GameError({
        code: ErrorCode.UNAVAILABLE,
        message: 'the stakes could not be taken; try again',
        retryable: true,
      });
    }
    if (held.state === 'held') return true;
    const short = held.shortOfFunds ?? [];
    if (held.state !== 'refused' || short.length === 0) {
      await this.mm.putBack(other).catch(() => false);
      await this.voidEscrow(duelId, ctx, new Error(`escrow answered ${held.state}`));
      throw new GameError({
        code: ErrorCode.UNAVAILABLE,
        message: 'the stakes could not be taken; try again',
        retryable: true,
      });
    }
    await dropOpen(this.db, duelId).catch((e: unknown) => ctx.log.warn({ err: e, duel: duelId }, 'drop failed'));
    if (short.includes(other.userId)) {
      await this.mm.drop(other);
      this.table.pushTo(
        other,
        events.stateLost(
          'duel',
          StateLostKind.UNBOUND,
          `left the matchmaking queue: not enough soft for a stake of ${stake}`,
        ),
      );
      ctx.log.info({ duel: duelId, user: other.userId, stake }, 'waiting player could not pay: dropped');
    } else {
      await this.mm.putBack(other);
    }
    if (short.includes(me.userId)) throw insufficient(`not enough soft for a stake of ${stake}`);
    return false;
  }

  /** The escrow's outcome is unknown: close it for good, refunding whatever it took. */
  private async voidEscrow(duelId: string, ctx: CallContext, cause: unknown): Promise<void> {
    ctx.log.warn({ err: (cause as Error).message, duel: duelId }, 'escrow outcome unknown: the stakes are refunded');
    try {
      if (await voidOpen(this.db, duelId, 'escrow-unknown')) this.settler.kick(duelId);
    } catch (err) {
      // The open row stays: the settler's sweep refunds it once it is older than orphanAfterMs.
      ctx.log.warn({ err: (err as Error).message, duel: duelId }, 'could not void the escrow now; the settler will');
    }
  }

  async cancelMatch(ctx: CallContext): Promise<void> {
    loggedIn(ctx);
    const owner = this.matchmakerElsewhere(ctx);
    if (owner !== undefined) return ctx.servicesAt(owner).duel.cancelMatch();
    await this.mm.cancel(ctx.sessionId);
  }

  async getDuel(duelId: string, ctx: CallContext): Promise<DuelState> {
    loggedIn(ctx);
    const fromPeer = this.fromPeer(ctx);
    const at = await this.table.locate(duelId, ctx.userId, fromPeer);
    // The holder's reply binds the session to it; the directive rides on this reply to the broker.
    if (at.kind === 'there') return ctx.servicesAt(at.instanceId).duel.getDuel(duelId);
    if (at.kind === 'here') await this.heldBy(duelId, ctx, fromPeer);
    return toState(at.game);
  }

  async act(duelId: string | undefined, action: DuelAction | undefined, ctx: CallContext): Promise<DuelState> {
    loggedIn(ctx);
    if (!duelId) throw refuse(ErrorCode.BAD_REQUEST, 'duelId is required');
    const what = toAction(action);
    const fromPeer = this.fromPeer(ctx);
    // Twice at most: a duel taken over while this instance wrote is found again where it went.
    for (let attempt = 0; attempt < 2; attempt++) {
      const at = await this.table.locate(duelId, ctx.userId, fromPeer);
      if (at.kind === 'there') {
        return ctx
          .servicesAt(at.instanceId)
          .duel.act(new DuelActRequest({ duelId, action: what === Actions.DRAW ? DuelAction.DRAW : DuelAction.SHOOT }));
      }
      if (at.kind === 'over') {
        const out = this.rules.act(at.game, ctx.userId, what, Date.now(), 0);
        throw refuse(out.ok ? ErrorCode.CONFLICT : ErrorCode[out.code], out.ok ? 'the duel is over' : out.message);
      }
      await this.heldBy(duelId, ctx, fromPeer);
      try {
        return toState(await this.table.act(duelId, ctx.userId, what));
      } catch (err) {
        if (!(err instanceof DuelMoved)) throw err;
      }
    }
    throw new GameError({ code: ErrorCode.UNAVAILABLE, message: 'the duel is moving; try again', retryable: true });
  }

  /** A call reached the duel's holder: remember the player's session, and bind it here if it came by a peer. */
  private async heldBy(duelId: string, ctx: CallContext, fromPeer: boolean): Promise<void> {
    if (fromPeer) ctx.bind();
    await this.table.seen(duelId, ctx.userId, ctx.sessionId, this.brokerVia(ctx));
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
  svc.settler.start();
  svc.keeper.start();
  return {
    role: 'duel',
    thriftService: 'Duel',
    processor: Duel.Processor,
    stateful: true,
    // every live duel and the queue are in Postgres: another instance takes a session over
    durable: true,
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
    stop: async () => {
      svc.settler.stop();
      await svc.keeper.stop();
    },
  };
}

/** What a duel module may be given: options (tests shorten the turn timeout) and the studio's own rules. */
export type DuelModuleOptions = Partial<Omit<DuelOptions, 'rules'>> & { rules?: Partial<DuelRules> };

/** The duel module with options; `rules` replaces some of the standard rules (rules.ts). */
export function duelModuleWith(opts: DuelModuleOptions = {}): ServiceModule<Duel.IHandler> {
  const { rules, ...rest } = opts;
  return {
    role: 'duel',
    migrations: duelMigrations,
    jobs: [duelAnalytics],
    build: (env, { db }) =>
      duelService(env, db, { ...duelOptions(rest.turnMs ?? env.cfg.duelTurnMs), ...rest, rules: duelRules(rules) }),
  };
}

/** The duel module for a project: `createDuelModule({ rules: { act: myAct } })`. */
export const createDuelModule = duelModuleWith;

export const duelModule: ServiceModule<Duel.IHandler> = {
  role: 'duel',
  migrations: duelMigrations,
  jobs: [duelAnalytics],
  build: (env, { db }) => duelService(env, db),
};
