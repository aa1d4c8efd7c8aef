/**
 * Every game-balance number of the player service, as pure functions (test/svc-player-rules).
 *
 * Units
 * - A unit has a level (1..MAX_UNIT_LEVEL) and stars (1..MAX_STARS).
 * - Stars cap the level: a unit with s stars can reach level 10 × s (1★ → 10, 2★ → 20, 3★ → 30).
 * - levelUp costs 100 × current level soft (1→2 costs 100, 29→30 costs 2,900).
 * - evolve needs the unit at its cap and costs 10 × stars hard plus 500 × stars soft; it adds one
 *   star and keeps the level, which raises the cap by 10.
 *
 * Rounds (playRound)
 * - Stages 1..MAX_STAGE. The outcome is a pure function of (userId, idempotency key, stage,
 *   player level): a retried round — even one re-run after a lost reply — gets the same result.
 * - Win chance: 0.5 + 0.05 × (player level − stage), clamped to [0.1, 0.95].
 * - Win: 20 + 10 × stage soft and 10 + 5 × stage xp. Loss: no soft, 2 × stage xp.
 *
 * Player level
 * - Total xp needed to reach level L is 50 × L × (L − 1) (level 2 at 100 xp, 3 at 300, 4 at 600);
 *   the level is derived from total xp, capped at MAX_PLAYER_LEVEL.
 *
 * Wallet limits
 * - One catalog product: 1..MAX_PURCHASE of one currency (a purchase credits it × the store's
 *   quantity, at most MAX_AMOUNT). One spend or grant: 1..MAX_AMOUNT.
 * - A store receipt (buyCurrency's receiptId, an App Store JWS is about 6 KB): 1..MAX_RECEIPT
 *   characters; the decode cap NOON_MAX_STRING (8192 by default) bounds it first.
 */
import { createHash } from 'node:crypto';

export const MAX_STARS = 3;
export const MAX_UNIT_LEVEL = 30;
export const MAX_STAGE = 1000;
export const MAX_PLAYER_LEVEL = 100;
export const MAX_PURCHASE = 1_000_000;
export const MAX_RECEIPT = 16_384;
/** Bounds a spend or grant; well inside 2^53 so sums of them stay exact in JS numbers. */
export const MAX_AMOUNT = 1_000_000_000;

export const STARTER_WALLET = { soft: 1000, hard: 20 } as const;
export const STARTER_UNITS: readonly { kind: string; level: number; stars: number }[] = [
  { kind: 'gunslinger', level: 1, stars: 1 },
  { kind: 'sheriff', level: 1, stars: 1 },
  { kind: 'outlaw', level: 1, stars: 1 },
];

export interface UnitStats {
  level: number;
  stars: number;
}

export interface Cost {
  soft: number;
  hard: number;
}

/** Why a unit change is refused; undefined = allowed. */
export type Refusal = string | undefined;

export function levelCap(stars: number): number {
  return Math.min(MAX_UNIT_LEVEL, 10 * stars);
}

export function levelUpCost(u: UnitStats): Cost {
  return { soft: 100 * u.level, hard: 0 };
}

export function levelUpRefusal(u: UnitStats): Refusal {
  if (u.level >= MAX_UNIT_LEVEL) return `unit is at the maximum level ${MAX_UNIT_LEVEL}`;
  if (u.level >= levelCap(u.stars))
    return `unit is at its level cap ${levelCap(u.stars)} for ${u.stars} stars; evolve it first`;
  return undefined;
}

export function evolveCost(u: UnitStats): Cost {
  return { soft: 500 * u.stars, hard: 10 * u.stars };
}

export function evolveRefusal(u: UnitStats): Refusal {
  if (u.stars >= MAX_STARS) return `unit already has the maximum ${MAX_STARS} stars`;
  if (u.level < levelCap(u.stars)) return `unit must reach level ${levelCap(u.stars)} before it can evolve`;
  return undefined;
}

/** Total xp needed to reach `level`. */
export function xpForLevel(level: number): number {
  return 50 * level * (level - 1);
}

export function levelForXp(xp: number): number {
  let level = 1;
  while (level < MAX_PLAYER_LEVEL && xp >= xpForLevel(level + 1)) level++;
  return level;
}

export function winChance(playerLevel: number, stage: number): number {
  return Math.min(0.95, Math.max(0.1, 0.5 + 0.05 * (playerLevel - stage)));
}

export interface RoundOutcome {
  won: boolean;
  softReward: number;
  xpGained: number;
}

/** A uniform number in [0, 1) from the round's identity (first 48 bits of a SHA-256). */
export function roundRoll(userId: string, key: string, stage: number): number {
  const digest = createHash('sha256').update(`${userId}\n${key}\n${stage}`).digest();
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

export function roundOutcome(userId: string, key: string, stage: number, playerLevel: number): RoundOutcome {
  const won = roundRoll(userId, key, stage) < winChance(playerLevel, stage);
  return won
    ? { won, softReward: 20 + 10 * stage, xpGained: 10 + 5 * stage }
    : { won, softReward: 0, xpGained: 2 * stage };
}

/** What a round's outcome is decided from. */
export interface RoundInput {
  userId: string;
  /** the client's idempotency key of the round */
  key: string;
  stage: number;
  playerLevel: number;
}

/**
 * A studio's own round rule (`createPlayerModule({ roundOutcome })`). It must be a pure function
 * of its input, like the standard one: a retried round must get the same result.
 */
export type RoundRule = (round: RoundInput) => RoundOutcome;

export const standardRoundRule: RoundRule = (r) => roundOutcome(r.userId, r.key, r.stage, r.playerLevel);

/** The outcome by `rule` (default: the standard one), refused when it is not a valid outcome. */
export function decideRound(rule: RoundRule | undefined, round: RoundInput): RoundOutcome {
  const o = (rule ?? standardRoundRule)(round);
  const whole = (v: unknown, max: number): boolean =>
    Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= max;
  if (typeof o?.won !== 'boolean') throw new Error(`round rule: won must be a boolean, got ${JSON.stringify(o?.won)}`);
  if (!whole(o.softReward, MAX_AMOUNT))
    throw new Error(`round rule: softReward must be an integer in 0..${MAX_AMOUNT}, got ${String(o.softReward)}`);
  if (!whole(o.xpGained, MAX_AMOUNT))
    throw new Error(`round rule: xpGained must be an integer in 0..${MAX_AMOUNT}, got ${String(o.xpGained)}`);
  return { won: o.won, softReward: o.softReward, xpGained: o.xpGained };
}
