/**
 * How a simulated player grows its units the way a person would: level a unit up to its cap
 * before evolving it, and buy currency when it cannot pay for the next step, instead of pressing
 * buttons the game refuses. Pure: the player's units and wallet come in, one decision comes out.
 *
 * The game's rules are the scenario's (`rules`), with the built-in player service's as defaults:
 * a unit with s stars reaches level levelsPerStar × s (at most maxLevel); levelling up from level L
 * costs levelUpSoftPerLevel × L soft; evolving costs evolveSoftPerStar × s soft and
 * evolveHardPerStar × s hard, up to maxStars.
 */
export interface GameRules {
  levelsPerStar: number;
  maxLevel: number;
  maxStars: number;
  levelUpSoftPerLevel: number;
  evolveSoftPerStar: number;
  evolveHardPerStar: number;
}

/** The built-in player service's rules (services/player/rules.ts). */
export const DEFAULT_RULES: GameRules = {
  levelsPerStar: 10,
  maxLevel: 30,
  maxStars: 3,
  levelUpSoftPerLevel: 100,
  evolveSoftPerStar: 500,
  evolveHardPerStar: 10,
};

export interface UnitState {
  unitId: string;
  level: number;
  stars: number;
}

export interface Funds {
  soft: number;
  hard: number;
}

export type UnitPlan =
  | { op: 'levelUp' | 'evolve'; unitId: string }
  /** the next step costs more than the wallet holds: buy first */
  | { op: 'buy' }
  /** nothing left to grow */
  | { op: 'none' };

const capOf = (u: UnitState, r: GameRules): number => Math.min(r.maxLevel, r.levelsPerStar * u.stars);
const canLevel = (u: UnitState, r: GameRules): boolean => u.level < capOf(u, r);
const canEvolve = (u: UnitState, r: GameRules): boolean => u.stars < r.maxStars && u.level >= capOf(u, r);

function affords(funds: Funds | undefined, soft: number, hard: number): boolean {
  // an unknown wallet (no walletChanged yet) is tried: the game is the judge
  return funds === undefined || (funds.soft >= soft && funds.hard >= hard);
}

function pick<T>(items: readonly T[], random: () => number): T | undefined {
  return items[Math.floor(random() * items.length)];
}

function levelUpPlan(
  units: readonly UnitState[],
  funds: Funds | undefined,
  r: GameRules,
  random: () => number,
): UnitPlan {
  const below = units.filter((u) => canLevel(u, r));
  if (below.length === 0) return { op: 'none' };
  const payable = below.filter((u) => affords(funds, r.levelUpSoftPerLevel * u.level, 0));
  const u = pick(payable, random);
  return u ? { op: 'levelUp', unitId: u.unitId } : { op: 'buy' };
}

/** `intent` is the scenario's action; the plan is what the player actually does for it. */
export function planUnit(
  intent: 'levelUp' | 'evolve',
  units: readonly UnitState[],
  funds: Funds | undefined,
  r: GameRules,
  random: () => number,
): UnitPlan {
  const atCap = units.filter((u) => canEvolve(u, r));
  if (intent === 'levelUp') {
    const plan = levelUpPlan(units, funds, r, random);
    return plan.op === 'none' && atCap.length > 0 ? planUnit('evolve', units, funds, r, random) : plan;
  }
  if (atCap.length > 0) {
    const payable = atCap.filter((u) => affords(funds, r.evolveSoftPerStar * u.stars, r.evolveHardPerStar * u.stars));
    const u = pick(payable, random);
    return u ? { op: 'evolve', unitId: u.unitId } : { op: 'buy' };
  }
  // nothing at its cap yet: work towards it, on the unit closest to its cap
  const below = units.filter((u) => canLevel(u, r) && u.stars < r.maxStars);
  if (below.length === 0) return { op: 'none' };
  const closest = below.reduce((a, b) => (capOf(b, r) - b.level < capOf(a, r) - a.level ? b : a));
  return affords(funds, r.levelUpSoftPerLevel * closest.level, 0)
    ? { op: 'levelUp', unitId: closest.unitId }
    : { op: 'buy' };
}
