/**
 * The duels this instance holds. Postgres is the truth of every live duel (games.ts): each
 * accepted change is written there first — with the version it follows and this instance as its
 * holder, so two instances can never both apply a move — and only then kept here, pushed to both
 * players and answered. The turn timer runs here, armed from the stored deadline, so a duel taken
 * over from another instance times out exactly when it would have there.
 *
 * A call for a duel this instance does not hold finds it in Postgres (`locate`): a live holder
 * that takes work gets the call forwarded; a duel released (its holder drained or stopped), or
 * whose holder is gone or draining, is taken over here. A finished duel's end is written with its
 * result and pending settlement in one transaction, retried until it lands; the settler
 * (settler.ts) pays it out. A finished duel stays in memory `keepFinishedMs` for late getDuel calls.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../../shared/data/sql';
import type { Logger } from '../../shared/log';
import { DuelPhase, DuelState, ErrorCode, GameError } from '../../shared/protocol';
import { events } from '../../shared/thrift/events';
import type { Directive, ServiceEnv } from '../../rpc/api';
import { newGame, type Action, type DuelRules, type Game } from './rules';
import { insertGame, loadGame, releaseGame, saveGame, setSession, takeOver, type GameRow } from './games';
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
  /** the stored version `game` is */
  version: number;
  seats: [Seat, Seat];
  timer: NodeJS.Timeout | undefined;
  /** the durable write of the end, once the duel is over */
  finishing: Promise<void> | undefined;
  /** the change being written: changes of one duel go one at a time */
  turn: Promise<unknown>;
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

/** Where a duel is: held here, held by another instance that takes work, or over (read from Postgres). */
export type Located =
  { kind: 'here'; game: Game } | { kind: 'there'; instanceId: string } | { kind: 'over'; game: Game };

/** The duel was taken over by another instance while this one wrote: nothing was applied. */
export class DuelMoved extends Error {
  constructor(duelId: string) {
    super(`duel ${duelId} moved to another instance`);
  }
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

function forbidden(): GameError {
  return new GameError({ code: ErrorCode.FORBIDDEN, message: 'not a player of this duel', retryable: false });
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
    /** whether this instance is draining: it then takes no duel over */
    private readonly draining: () => boolean,
  ) {}

  /** Starts a duel (whose stakes are already in escrow) between two seated players; returns its first state. */
  async create(duelId: string, a: Seat, b: Seat, stake: number): Promise<Game> {
    const game = newGame(duelId, [a.userId, b.userId], stake, Date.now(), this.opts.turnMs);
    await insertGame(this.db, game, [a, b], this.env.instanceId);
    this.hold(game, 1, [a, b]);
    return game;
  }

  /**
   * Finds the duel for one of its players (`fromPeer`: the call was forwarded by another duel
   * instance, which must not be sent it back). NOT_FOUND when there is no such duel.
   */
  async locate(duelId: string, userId: string, fromPeer: boolean): Promise<Located> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const held = this.live.get(duelId);
      if (held) {
        if (!held.game.players.includes(userId)) throw forbidden();
        return { kind: 'here', game: held.game };
      }
      const row = await loadGame(this.db, duelId);
      if (!row) throw new GameError({ code: ErrorCode.NOT_FOUND, message: `no duel ${duelId}`, retryable: false });
      if (!row.game.players.includes(userId)) throw forbidden();
      if (row.game.finished) return { kind: 'over', game: row.game };
      const me = this.env.instanceId;
      const draining = this.draining();
      if (row.holder === me && !draining) return { kind: 'here', game: this.adopt(row, false).game };
      if (row.holder !== undefined && row.holder !== me && this.takesWork(row.holder)) {
        if (fromPeer) throw this.moving(duelId);
        return { kind: 'there', instanceId: row.holder };
      }
      // Released, or its holder is gone or draining: a draining instance hands it to its owner.
      const owner = this.env.ownerOf(duelId);
      if (draining && !fromPeer && owner !== undefined && owner !== me) return { kind: 'there', instanceId: owner };
      if (await takeOver(this.db, duelId, row.version, row.holder, me)) {
        const live = this.adopt(row, this.lostWith(row.holder));
        return { kind: 'here', game: live.game };
      }
      // Someone else changed or took it meanwhile: read it again.
    }
    throw this.moving(duelId);
  }

  /** Takes over an unheld duel found by the sweep, unless a call did first. */
  async claim(duelId: string, from: string | undefined): Promise<boolean> {
    if (this.live.has(duelId) || this.draining()) return false;
    const row = await loadGame(this.db, duelId);
    if (!row || row.game.finished || row.holder !== from) return false;
    if (!(await takeOver(this.db, duelId, row.version, from, this.env.instanceId))) return false;
    this.adopt(row, this.lostWith(from));
    this.log.info({ duel: duelId, from: from ?? '(released)' }, 'duel taken over');
    return true;
  }

  /** Remembers the session a player now calls from (pushes then go to it). */
  async seen(duelId: string, userId: string, sessionId: string, via: string | undefined): Promise<void> {
    const live = this.live.get(duelId);
    const i = live?.seats.findIndex((s) => s.userId === userId) ?? -1;
    const seat = live?.seats[i];
    if (!seat) return;
    if (via !== undefined) seat.via = via;
    if (sessionId === '' || seat.sessionId === sessionId) return;
    seat.sessionId = sessionId;
    await setSession(this.db, duelId, i === 0 ? 0 : 1, sessionId);
  }

  /** Whether this instance holds the duel (live or recently finished). */
  holds(duelId: string): boolean {
    return this.live.has(duelId);
  }

  /** One player's action on a duel held here; DuelMoved when it was taken over meanwhile. */
  act(duelId: string, userId: string, action: Action): Promise<Game> {
    const live = this.live.get(duelId);
    if (!live) return Promise.reject(new DuelMoved(duelId));
    return this.serial(live, async () => {
      if (this.live.get(duelId) !== live) throw new DuelMoved(duelId);
      const out = this.opts.rules.act(live.game, userId, action, Date.now(), this.opts.turnMs);
      if (out.game !== live.game) await this.change(live, out.game);
      if (!out.ok) throw new GameError({ code: ErrorCode[out.code], message: out.message, retryable: false });
      return out.game;
    });
  }

  /** Lets every unfinished duel go (draining or stopping): the next instance to call for one takes it. */
  async releaseAll(): Promise<number> {
    let released = 0;
    await Promise.all(
      [...this.live.values()]
        .filter((l) => !l.game.finished)
        .map((live) =>
          this.serial(live, async () => {
            if (live.game.finished || this.live.get(live.game.id) !== live) return;
            this.forget(live);
            try {
              if (await releaseGame(this.db, live.game.id, this.env.instanceId)) released++;
            } catch (err) {
              // Still ours in the row: others take it over from a draining or gone holder.
              this.log.warn({ err: (err as Error).message, duel: live.game.id }, 'duel not released');
            }
          }).catch(() => undefined),
        ),
    );
    return released;
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

  private takesWork(instanceId: string): boolean {
    return this.env.directory.instances({ role: this.env.role }).some((r) => r.instanceId === instanceId);
  }

  /**
   * Whether a duel taken from `holder` may have lost its last push with it: only when the holder
   * is gone. A draining holder is alive and sent its pushes; announcing the state again would
   * give its players the same update twice.
   */
  private lostWith(holder: string | undefined): boolean {
    if (holder === undefined || holder === this.env.instanceId) return false;
    return !this.env.directory
      .instances({ role: this.env.role, includeDraining: true })
      .some((r) => r.instanceId === holder);
  }

  private moving(duelId: string): GameError {
    return new GameError({
      code: ErrorCode.UNAVAILABLE,
      message: `duel ${duelId} is moving to another instance; try again`,
      retryable: true,
    });
  }

  private hold(game: Game, version: number, seats: [Seat, Seat]): Live {
    const live: Live = { game, version, seats, timer: undefined, finishing: undefined, turn: Promise.resolve() };
    this.live.set(game.id, live);
    this.arm(live);
    return live;
  }

  /**
   * Holds a duel read from Postgres. Both sessions are bound here; after a takeover from an
   * instance that did not release it (`announce`), its last push may have been lost with it, so
   * both players are sent the current state.
   */
  private adopt(row: GameRow, announce: boolean): Live {
    const seats: [Seat, Seat] = [
      { ...row.seats[0], via: undefined },
      { ...row.seats[1], via: undefined },
    ];
    const live = this.hold(row.game, row.version, seats);
    const state = announce ? events.duelUpdated(toState(row.game)) : Buffer.alloc(0);
    for (const seat of seats) this.pushTo(seat, state, [this.env.directives.bind(seat.sessionId)]);
    return live;
  }

  private forget(live: Live): void {
    clearTimeout(live.timer);
    if (this.live.get(live.game.id) === live) this.live.delete(live.game.id);
  }

  private serial<T>(live: Live, fn: () => Promise<T>): Promise<T> {
    const run = live.turn.then(fn, fn);
    live.turn = run.catch(() => undefined);
    return run;
  }

  /** Writes the change, then keeps, pushes and times it; DuelMoved (and forgotten here) when the write was fenced off. */
  private async change(live: Live, next: Game): Promise<void> {
    if (next.finished) {
      clearTimeout(live.timer);
      // The reply and the pushes saying FINISHED wait for the durable write: from then on the
      // result, and what the escrow owes, is settled whatever happens to this instance.
      live.finishing ??= this.finish(live, next);
      return live.finishing;
    }
    if (!(await saveGame(this.db, next, live.version, this.env.instanceId))) {
      this.forget(live);
      throw new DuelMoved(next.id);
    }
    live.game = next;
    live.version++;
    const bytes = events.duelUpdated(toState(next));
    for (const seat of live.seats) this.pushTo(seat, bytes);
    this.arm(live);
  }

  /** Writes the end, result and pending settlement, retrying until it lands; then announces it. */
  private async finish(live: Live, g: Game): Promise<void> {
    const me = this.env.instanceId;
    const endedAt = Date.now();
    const names: [string, string] = [live.seats[0].username, live.seats[1].username];
    const fenced = async (q: Parameters<typeof saveGame>[0]): Promise<void> => {
      if (!(await saveGame(q, g, live.version, me))) throw new DuelMoved(g.id);
    };
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await finishDuel(this.db, g, names, me, endedAt, fenced);
        if (r === 'voided')
          this.log.warn({ duel: g.id }, 'duel was taken for lost and refunded before its result was written');
        break;
      } catch (err) {
        if (err instanceof DuelMoved) {
          // An earlier attempt whose COMMIT's answer was lost wrote exactly this end.
          const row = await loadGame(this.db, g.id).catch(() => undefined);
          const ours = row?.holder === me && row.version === live.version + 1 && row.game.finished;
          if (!ours) {
            this.forget(live);
            live.finishing = undefined;
            throw err;
          }
          break;
        }
        const wait = Math.min(this.opts.settleMaxBackoffMs, this.opts.settleBackoffMs * 2 ** (attempt - 1));
        this.log.warn({ err: (err as Error).message, duel: g.id, attempt }, 'duel result not written; retrying');
        await sleep(wait, undefined, { ref: false });
      }
    }
    live.game = g;
    live.version++;
    const bytes = events.duelUpdated(toState(g));
    for (const seat of live.seats) this.pushTo(seat, bytes);
    this.onFinished(g.id);
    setTimeout(() => this.forget(live), this.opts.keepFinishedMs).unref();
  }

  /** (Re)starts the turn timer from the duel's deadline; at it the rules decide who forfeits. */
  private arm(live: Live): void {
    clearTimeout(live.timer);
    if (live.game.finished) return;
    live.timer = setTimeout(
      () => {
        void this.serial(live, async () => {
          if (this.live.get(live.game.id) !== live || live.finishing) return;
          const next = this.opts.rules.expire(live.game, Date.now());
          if (next === live.game) return this.arm(live);
          await this.change(live, next);
        }).catch((err: unknown) => {
          if (!(err instanceof DuelMoved))
            this.log.warn({ err: (err as Error).message, duel: live.game.id }, 'turn timeout not applied; retrying');
          if (this.live.get(live.game.id) === live) this.rearmSoon(live);
        });
      },
      Math.max(0, live.game.deadline - Date.now()),
    );
    // A pending turn must not keep a stopping process alive.
    live.timer.unref();
  }

  /** The timeout's write failed (the database is away): try again shortly. */
  private rearmSoon(live: Live): void {
    clearTimeout(live.timer);
    live.timer = setTimeout(() => this.arm(live), this.opts.settleBackoffMs);
    live.timer.unref();
  }
}
