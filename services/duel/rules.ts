/**
 * The duel's rules as a pure state machine (no clock, no I/O: `now` is passed in).
 *
 * Each player must DRAW, then SHOOT. SHOOT before one's own DRAW is a misfire: the shooter loses.
 * The first valid SHOOT wins. Every valid action restarts the turn clock; when it runs out
 * (`deadline`), a player who did not draw forfeits to one who did; if neither drew, or both drew
 * and neither shot, the duel ends with no winner.
 */

export const Actions = { DRAW: 'draw', SHOOT: 'shoot' } as const;
export type Action = (typeof Actions)[keyof typeof Actions];

export const EndReasons = {
  /** the winner drew and shot first */
  SHOT: 'shot',
  /** the loser shot before drawing */
  MISFIRE: 'misfire',
  /** the loser did not draw in time; the winner had */
  TIMEOUT: 'timeout',
  /** neither player drew in time: no winner */
  IDLE: 'idle',
  /** both drew, neither shot in time: no winner */
  STANDOFF: 'standoff',
} as const;
export type EndReason = (typeof EndReasons)[keyof typeof EndReasons];

export interface Game {
  readonly id: string;
  readonly players: readonly [string, string];
  readonly stake: number;
  /** players who have drawn, in order */
  readonly drawn: readonly string[];
  readonly finished: boolean;
  /** '' when nobody won (or not finished) */
  readonly winner: string;
  readonly loser: string;
  readonly reason: EndReason | '';
  /** ms epoch when the current turn times out */
  readonly deadline: number;
}

export type Refusal = 'FORBIDDEN' | 'CONFLICT';

export type Outcome =
  | { ok: true; game: Game }
  /** `game` is the state after the refusal: it differs from the input when the turn had timed out */
  | { ok: false; code: Refusal; message: string; game: Game };

export function newGame(
  id: string,
  players: readonly [string, string],
  stake: number,
  now: number,
  turnMs: number,
): Game {
  return { id, players, stake, drawn: [], finished: false, winner: '', loser: '', reason: '', deadline: now + turnMs };
}

export function opponentOf(g: Game, userId: string): string {
  return g.players[0] === userId ? g.players[1] : g.players[0];
}

function end(g: Game, winner: string, loser: string, reason: EndReason): Game {
  return { ...g, finished: true, winner, loser, reason };
}

/** Applies the turn timeout if `now` is past the deadline; otherwise returns `g` itself. */
export function expire(g: Game, now: number): Game {
  if (g.finished || now < g.deadline) return g;
  const [a, b] = g.players;
  const aDrew = g.drawn.includes(a);
  const bDrew = g.drawn.includes(b);
  if (aDrew && !bDrew) return end(g, a, b, EndReasons.TIMEOUT);
  if (bDrew && !aDrew) return end(g, b, a, EndReasons.TIMEOUT);
  return end(g, '', '', aDrew ? EndReasons.STANDOFF : EndReasons.IDLE);
}

/** One player's action at time `now`. */
export function act(g: Game, userId: string, action: Action, now: number, turnMs: number): Outcome {
  if (!g.players.includes(userId))
    return { ok: false, code: 'FORBIDDEN', message: 'not a player of this duel', game: g };
  const cur = expire(g, now);
  if (cur.finished)
    return {
      ok: false,
      code: 'CONFLICT',
      message: cur === g ? 'the duel is over' : 'the turn timed out: the duel is over',
      game: cur,
    };
  const deadline = now + turnMs;
  if (action === Actions.DRAW) {
    if (cur.drawn.includes(userId)) return { ok: false, code: 'CONFLICT', message: 'already drawn', game: cur };
    return { ok: true, game: { ...cur, drawn: [...cur.drawn, userId], deadline } };
  }
  if (!cur.drawn.includes(userId))
    return { ok: true, game: { ...end(cur, opponentOf(cur, userId), userId, EndReasons.MISFIRE), deadline } };
  return { ok: true, game: { ...end(cur, userId, opponentOf(cur, userId), EndReasons.SHOT), deadline } };
}

/**
 * The rules a duel instance plays by: `act` (which applies the turn timeout itself, as the
 * standard `act` does through `expire`) and `expire` (what the turn timer applies). A studio's
 * own duel rules replace either: `createDuelModule({ rules: { act } })`.
 */
export interface DuelRules {
  act(g: Game, userId: string, action: Action, now: number, turnMs: number): Outcome;
  expire(g: Game, now: number): Game;
}

export const standardRules: DuelRules = { act, expire };

/** The standard rules with the given ones in their place. */
export function duelRules(own: Partial<DuelRules> = {}): DuelRules {
  return { ...standardRules, ...own };
}
