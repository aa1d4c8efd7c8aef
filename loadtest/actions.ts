/**
 * The actions of the scenario mix, each one or more SDK calls made through SimPlayer.call (so
 * every call is timed and its outcome recorded). Game refusals (a unit at its cap, not enough
 * funds, a duel already over) are normal outcomes here, recorded as game errors by code.
 */
import Int64 from 'node-int64';
import {
  BuyRequest,
  Currency,
  DuelAction,
  DuelActRequest,
  MatchStatus,
  RoundRequest,
  SpendRequest,
  UnitRequest,
  type MatchTicket,
  type Unit,
} from '../shared/protocol';
import { planUnit, type Funds, type UnitState } from './progression';
import type { NoonClient } from '../client';
import type { ActionName, Scenario } from './scenario';

/** What an action needs of the simulated player that runs it (loadtest/player.ts's SimPlayer). */
export interface ActingPlayer {
  readonly index: number;
  /** the chat room this player talks in */
  readonly room: string;
  /** the player's units as the game last told it (listUnits, then each levelUp/evolve reply) */
  readonly units: readonly UnitState[];
  /** the wallet as last pushed (walletChanged) or replied; undefined until known */
  readonly funds: Funds | undefined;
  /** a reply that says what a unit is now */
  noteUnit(unit: Unit): void;
  /** the current client (for push subscriptions); undefined while disconnected */
  readonly current: NoonClient | undefined;
  /** a fresh idempotency key */
  key(): string;
  /** one timed, recorded call; undefined when it failed */
  call<T>(method: string, fn: (c: NoonClient) => Promise<T>): Promise<T | undefined>;
}

export interface ActionEnv {
  scenario: Scenario;
  player: ActingPlayer;
  random(): number;
  sleep(ms: number): Promise<void>;
  running(): boolean;
}

type Action = (env: ActionEnv) => Promise<void>;

/**
 * A unit step as a player takes it (loadtest/progression.ts): level up below the cap, evolve at
 * the cap, and buy currency first when the step costs more than the wallet holds.
 */
async function unitChange(env: ActionEnv, intent: 'levelUp' | 'evolve'): Promise<void> {
  const { player } = env;
  const plan = planUnit(intent, player.units, player.funds, env.scenario.rules, env.random);
  if (plan.op === 'none') return;
  if (plan.op === 'buy') return buyCurrency(env);
  const req = new UnitRequest({ idempotencyKey: player.key(), unitId: plan.unitId });
  const unit = await player.call(`Player:${plan.op}`, (c) =>
    plan.op === 'levelUp' ? c.player.levelUp(req) : c.player.evolve(req),
  );
  if (unit) player.noteUnit(unit);
}

// A development receipt (dev:<productId>:<unique>) of the development catalog
// (services/player/receipts/catalog.ts): credited only by a cluster running the development
// verifier (`noon up` on PGlite, or NOON_PURCHASE_VERIFIER=development); elsewhere it is a
// refusal, recorded like any game error.
async function buyCurrency({ player, random }: ActionEnv): Promise<void> {
  const hard = random() < 0.3;
  const req = new BuyRequest({
    receiptId: `dev:${hard ? 'gems_20' : 'coins_500'}:${player.key()}`,
    currency: hard ? Currency.HARD : Currency.SOFT,
    amount: hard ? 20 : 500,
  });
  await player.call('Player:buyCurrency', (c) => c.player.buyCurrency(req));
}

/** Waits for a matchFound push for at most `ms` (or until the run stops). */
function matchFound(env: ActionEnv, ms: number): { ticket: Promise<MatchTicket | undefined>; cancel(): void } {
  const c = env.player.current;
  let off: (() => void) | undefined;
  let wake: ((t: MatchTicket | undefined) => void) | undefined;
  const ticket = new Promise<MatchTicket | undefined>((resolve) => {
    wake = resolve;
    off = c?.once('matchFound', (t) => resolve(t));
    void env.sleep(ms).then(() => resolve(undefined));
  });
  return { ticket, cancel: () => (off?.(), wake?.(undefined)) };
}

/** findMatch; if queued, wait for a matchFound push (else cancelMatch); then DRAW and SHOOT. */
async function duel(env: ActionEnv): Promise<void> {
  const { player, scenario } = env;
  const waiter = matchFound(env, scenario.duel.matchWaitMs);
  const t = await player.call('Duel:findMatch', (c) => c.duel.findMatch(new Int64(scenario.duel.stake)));
  let duelId = t?.status === MatchStatus.MATCHED ? t.duelId : undefined;
  if (t?.status === MatchStatus.QUEUED) {
    const pushed = await waiter.ticket;
    duelId = pushed?.duelId;
    if (duelId === undefined) await player.call('Duel:cancelMatch', (c) => c.duel.cancelMatch());
  }
  waiter.cancel();
  if (!duelId) return;
  const id = duelId;
  await player.call('Duel:act', (c) => c.duel.act(new DuelActRequest({ duelId: id, action: DuelAction.DRAW })));
  await env.sleep(5 + env.random() * 20);
  await player.call('Duel:act', (c) => c.duel.act(new DuelActRequest({ duelId: id, action: DuelAction.SHOOT })));
}

export const ACTION_IMPLS: Record<ActionName, Action> = {
  playRound: async ({ player, random }) => {
    const stage = 1 + Math.floor(random() * 5);
    await player.call('Player:playRound', (c) =>
      c.player.playRound(new RoundRequest({ idempotencyKey: player.key(), stage })),
    );
  },
  levelUp: (env) => unitChange(env, 'levelUp'),
  evolve: (env) => unitChange(env, 'evolve'),
  buyCurrency,
  spendCurrency: async (env) => {
    const { player } = env;
    // a player with too little to spend buys first
    if (player.funds !== undefined && player.funds.soft < 50) return buyCurrency(env);
    const req = new SpendRequest({
      idempotencyKey: player.key(),
      currency: Currency.SOFT,
      amount: 50,
      reason: 'loadtest',
    });
    await player.call('Player:spendCurrency', (c) => c.player.spendCurrency(req));
  },
  getProfile: async ({ player }) => {
    await player.call('Player:getProfile', (c) => c.player.getProfile());
  },
  chatSay: async ({ player }) => {
    await player.call('Chat:say', (c) => c.chat.say(player.room, `hello from ${player.index} #${player.key()}`));
  },
  duel,
  leaderboardTop: async ({ player, scenario }) => {
    await player.call('Leaderboard:top', (c) =>
      c.leaderboard.top(scenario.leaderboard.board, scenario.leaderboard.count),
    );
  },
};

export function runAction(name: ActionName, env: ActionEnv): Promise<void> {
  return ACTION_IMPLS[name](env);
}
