/**
 * The duels this instance holds (it is their matchmaker; both sessions are bound to it). Every
 * state change is pushed to both players; the turn timer ends idle duels; a finished duel is
 * settled once (result row, winnings, leaderboard: each keyed by the duel id, so a retried
 * settlement is harmless) and kept for `keepFinishedMs` so late getDuel calls still see it.
 */
import { randomUUID } from 'node:crypto';
import Int64 from 'node-int64';
import type { Db } from '../../shared/data/sql';
import type { Logger } from '../../shared/log';
import { DuelPhase, DuelState, ErrorCode, GameError, GrantRequest } from '../../shared/protocol';
import { events } from '../../shared/thrift/events';
import type { Directive, ServiceClients, ServiceEnv } from '../../rpc/api';
import { act, expire, newGame, type Action, type Game } from './rules';
import { saveResult } from './store';

export interface Seat {
  userId: string;
  /** display name for the leaderboard; the user id when the session had none */
  username: string;
  sessionId: string;
  /** the player's broker, when known; pushes go to every broker otherwise */
  via: string | undefined;
}

interface Live {
  game: Game;
  seats: [Seat, Seat];
  timer: NodeJS.Timeout | undefined;
  settling: Promise<void> | undefined;
}

export interface TableOptions {
  turnMs: number;
  keepFinishedMs: number;
  /** settlement attempts when the player or leaderboard service fails (first included) */
  settleAttempts: number;
  settleRetryMs: number;
}

export const LEADERBOARD = 'duels';

export function toState(g: Game): DuelState {
  return new DuelState({
    duelId: g.id,
    phase: g.finished ? DuelPhase.FINISHED : DuelPhase.ACTIVE,
    players: [...g.players],
    drawn: new Map(g.players.map((p) => [p, g.drawn.includes(p)])),
    winner: g.winner,
    reason: g.reason,
    stake: g.stake,
    deadlineMs: g.deadline,
  });
}

export class DuelTable {
  private readonly live = new Map<string, Live>();

  constructor(
    private readonly env: ServiceEnv,
    private readonly db: Db,
    private readonly opts: TableOptions,
    private readonly log: Logger,
  ) {}

  /** Starts a duel between two seated players; returns its first state. */
  create(a: Seat, b: Seat, stake: number): Game {
    const game = newGame(randomUUID(), [a.userId, b.userId], stake, Date.now(), this.opts.turnMs);
    const live: Live = { game, seats: [a, b], timer: undefined, settling: undefined };
    this.live.set(game.id, live);
    this.arm(live);
    return game;
  }

  /** The duel for one of its players; NOT_FOUND when this instance does not hold it. */
  get(duelId: string, userId: string): Game {
    const live = this.find(duelId);
    if (!live.game.players.includes(userId))
      throw new GameError({ code: ErrorCode.FORBIDDEN, message: 'not a player of this duel', retryable: false });
    return live.game;
  }

  /** Remembers the broker a player's session now calls through (pushes then go only there). */
  seen(duelId: string, userId: string, sessionId: string, via: string | undefined): void {
    const seat = this.live.get(duelId)?.seats.find((s) => s.userId === userId);
    if (!seat || via === undefined) return;
    seat.sessionId = sessionId;
    seat.via = via;
  }

  async act(duelId: string, userId: string, action: Action, services: ServiceClients): Promise<Game> {
    const live = this.find(duelId);
    const out = act(live.game, userId, action, Date.now(), this.opts.turnMs);
    if (out.game !== live.game) await this.change(live, out.game, services);
    if (!out.ok) throw new GameError({ code: ErrorCode[out.code], message: out.message, retryable: false });
    return out.game;
  }

  /** Pushes an Events message (and directives) to one player. */
  pushTo(seat: Seat, payload: Buffer, directives: Directive[] = []): void {
    const targets =
      seat.via !== undefined ? [seat.via] : this.env.directory.instances({ role: 'broker' }).map((r) => r.instanceId);
    // A broker that does not hold the session drops the push; only its holder delivers it.
    for (const via of targets) this.env.push(seat.sessionId, payload, directives, via);
    if (targets.length === 0) this.log.warn({ session: seat.sessionId }, 'no broker to push to');
  }

  get size(): number {
    return this.live.size;
  }

  private find(duelId: string): Live {
    const live = this.live.get(duelId);
    if (!live)
      throw new GameError({
        code: ErrorCode.NOT_FOUND,
        message: `duel ${duelId} is not held by this instance`,
        retryable: false,
      });
    return live;
  }

  private async change(live: Live, next: Game, services: ServiceClients): Promise<void> {
    live.game = next;
    const bytes = events.duelUpdated(toState(next));
    for (const seat of live.seats) this.pushTo(seat, bytes);
    if (!next.finished) {
      this.arm(live);
      return;
    }
    clearTimeout(live.timer);
    live.settling ??= this.settle(live, services);
    await live.settling;
    setTimeout(() => this.live.delete(next.id), this.opts.keepFinishedMs).unref();
  }

  /** (Re)starts the turn timer; at the deadline the rules decide who forfeits. */
  private arm(live: Live): void {
    clearTimeout(live.timer);
    live.timer = setTimeout(
      () => {
        const next = expire(live.game, Date.now());
        if (next === live.game) return this.arm(live);
        // No call is running: background clients, deadline = the request timeout.
        void this.change(live, next, this.env.services({ traceId: `duel-timeout-${live.game.id}` }));
      },
      Math.max(0, live.game.deadline - Date.now()),
    );
    // A pending turn must not keep a stopping process alive.
    live.timer.unref();
  }

  /** Result row, then winnings, then leaderboard; retried in the background on failure. */
  private async settle(live: Live, services: ServiceClients, attempt = 1): Promise<void> {
    const g = live.game;
    try {
      await saveResult(this.db, g, Date.now());
      if (g.winner !== '') {
        const key = `duel:${g.id}`;
        // A duel for no stake still counts on the leaderboard; there is nothing to pay.
        if (g.stake > 0)
          await services.player.grant(
            new GrantRequest({ idempotencyKey: key, userId: g.winner, soft: g.stake * 2, hard: 0, reason: 'duel won' }),
          );
        const winner = live.seats.find((s) => s.userId === g.winner);
        await services.leaderboard.report(LEADERBOARD, g.winner, winner?.username || g.winner, new Int64(1), key);
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message, duel: g.id, attempt }, 'duel settlement failed');
      if (attempt >= this.opts.settleAttempts) return;
      const retry = (): void =>
        void this.settle(live, this.env.services({ traceId: `duel-settle-${g.id}` }), attempt + 1);
      setTimeout(retry, this.opts.settleRetryMs * attempt).unref();
    }
  }
}
