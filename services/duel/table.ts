/**
 * The duels this instance holds (it is their matchmaker; both sessions are bound to it). Every
 * state change is pushed to both players; the turn timer ends idle duels. A finished duel is
 * written to Postgres first — its result row and its pending settlement, in one transaction,
 * retried until it lands — and only then announced; the settler (settler.ts) pays it out of
 * escrow and reports it, on this or any other duel instance. A finished duel is kept for
 * `keepFinishedMs` so late getDuel calls still see it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../../shared/data/sql';
import type { Logger } from '../../shared/log';
import { DuelPhase, DuelState, ErrorCode, GameError } from '../../shared/protocol';
import { events } from '../../shared/thrift/events';
import type { Directive, ServiceEnv } from '../../rpc/api';
import { newGame, type Action, type DuelRules, type Game } from './rules';
import { finishDuel } from './settlements';
import { LEADERBOARD } from './settler';

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
  /** the durable write of the result, once the duel is over */
  finishing: Promise<void> | undefined;
}

export interface TableOptions {
  turnMs: number;
  /** what an action does and what the turn timeout decides (rules.ts) */
  rules: DuelRules;
  keepFinishedMs: number;
  /** first wait before the result's write is tried again, ms (doubles up to settleMaxBackoffMs) */
  settleBackoffMs: number;
  settleMaxBackoffMs: number;
}

export { LEADERBOARD };

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
    /** called once the finished duel's settlement row is written (the settler can start on it) */
    private readonly onFinished: (duelId: string) => void,
  ) {}

  /** Starts a duel (whose stakes are already in escrow) between two seated players; returns its first state. */
  create(duelId: string, a: Seat, b: Seat, stake: number): Game {
    const game = newGame(duelId, [a.userId, b.userId], stake, Date.now(), this.opts.turnMs);
    const live: Live = { game, seats: [a, b], timer: undefined, finishing: undefined };
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

  /** Whether this instance holds the duel (live or recently finished). */
  holds(duelId: string): boolean {
    return this.live.has(duelId);
  }

  async act(duelId: string, userId: string, action: Action): Promise<Game> {
    const live = this.find(duelId);
    const out = this.opts.rules.act(live.game, userId, action, Date.now(), this.opts.turnMs);
    if (out.game !== live.game) await this.change(live, out.game);
    if (!out.ok) throw new GameError({ code: ErrorCode[out.code], message: out.message, retryable: false });
    return out.game;
  }

  /** Pushes an Events message (and directives) to one player. */
  pushTo(seat: Seat, payload: Buffer, directives: Directive[] = []): void {
    // The push goes to the broker holding the session now (the session store says which);
    // seat.via is only the fallback when the store cannot be reached.
    if (!this.env.push(seat.sessionId, payload, directives, seat.via))
      this.log.warn({ session: seat.sessionId }, 'no broker to push to');
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

  private async change(live: Live, next: Game): Promise<void> {
    live.game = next;
    if (!next.finished) {
      const bytes = events.duelUpdated(toState(next));
      for (const seat of live.seats) this.pushTo(seat, bytes);
      this.arm(live);
      return;
    }
    clearTimeout(live.timer);
    // The reply and the pushes saying FINISHED wait for the durable write: from then on the
    // result, and what the escrow owes, is settled whatever happens to this instance.
    live.finishing ??= this.finish(live);
    await live.finishing;
  }

  /** Writes the result and its pending settlement, retrying until it lands; then announces it. */
  private async finish(live: Live): Promise<void> {
    const g = live.game;
    const endedAt = Date.now();
    const names: [string, string] = [live.seats[0].username, live.seats[1].username];
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await finishDuel(this.db, g, names, this.env.instanceId, endedAt);
        if (r === 'voided')
          this.log.warn({ duel: g.id }, 'duel was taken for lost and refunded before its result was written');
        break;
      } catch (err) {
        const wait = Math.min(this.opts.settleMaxBackoffMs, this.opts.settleBackoffMs * 2 ** (attempt - 1));
        this.log.warn({ err: (err as Error).message, duel: g.id, attempt }, 'duel result not written; retrying');
        await sleep(wait, undefined, { ref: false });
      }
    }
    const bytes = events.duelUpdated(toState(g));
    for (const seat of live.seats) this.pushTo(seat, bytes);
    this.onFinished(g.id);
    setTimeout(() => this.live.delete(g.id), this.opts.keepFinishedMs).unref();
  }

  /** (Re)starts the turn timer; at the deadline the rules decide who forfeits. */
  private arm(live: Live): void {
    clearTimeout(live.timer);
    live.timer = setTimeout(
      () => {
        const next = this.opts.rules.expire(live.game, Date.now());
        if (next === live.game) return this.arm(live);
        void this.change(live, next);
      },
      Math.max(0, live.game.deadline - Date.now()),
    );
    // A pending turn must not keep a stopping process alive.
    live.timer.unref();
  }
}
