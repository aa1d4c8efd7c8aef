/** A simulated player grows its units as a person would (loadtest/progression.ts), under the built-in game's rules. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RULES, planUnit, type Funds, type UnitPlan, type UnitState } from '../../loadtest/progression';

const unit = (unitId: string, level: number, stars = 1): UnitState => ({ unitId, level, stars });
const rich: Funds = { soft: 1e6, hard: 1e6 };
const first = (): number => 0;

const cases: { what: string; intent: 'levelUp' | 'evolve'; units: UnitState[]; funds?: Funds; plan: UnitPlan }[] = [
  {
    what: 'level up a unit below its cap',
    intent: 'levelUp',
    units: [unit('a', 3)],
    funds: rich,
    plan: { op: 'levelUp', unitId: 'a' },
  },
  {
    what: 'never level up a unit at its cap (10 for 1 star)',
    intent: 'levelUp',
    units: [unit('a', 10), unit('b', 4)],
    funds: rich,
    plan: { op: 'levelUp', unitId: 'b' },
  },
  {
    what: 'every unit at its cap: evolve instead',
    intent: 'levelUp',
    units: [unit('a', 10)],
    funds: rich,
    plan: { op: 'evolve', unitId: 'a' },
  },
  {
    what: 'evolve a unit at its cap',
    intent: 'evolve',
    units: [unit('a', 7), unit('b', 10)],
    funds: rich,
    plan: { op: 'evolve', unitId: 'b' },
  },
  {
    what: 'nothing at its cap: level up the unit closest to it',
    intent: 'evolve',
    units: [unit('a', 3), unit('b', 8), unit('c', 12, 2)],
    funds: rich,
    plan: { op: 'levelUp', unitId: 'b' },
  },
  {
    what: 'cannot pay the level-up (100 × level soft): buy first',
    intent: 'levelUp',
    units: [unit('a', 5)],
    funds: { soft: 499, hard: 0 },
    plan: { op: 'buy' },
  },
  {
    what: 'cannot pay the evolution (10 hard per star): buy first',
    intent: 'evolve',
    units: [unit('a', 10)],
    funds: { soft: 10_000, hard: 9 },
    plan: { op: 'buy' },
  },
  {
    what: 'an unknown wallet is tried (the game judges)',
    intent: 'levelUp',
    units: [unit('a', 5)],
    plan: { op: 'levelUp', unitId: 'a' },
  },
  {
    what: 'at the maximum stars and level: nothing to grow',
    intent: 'evolve',
    units: [unit('a', 30, 3)],
    funds: rich,
    plan: { op: 'none' },
  },
  { what: 'no units yet', intent: 'levelUp', units: [], funds: rich, plan: { op: 'none' } },
];

for (const c of cases)
  test(c.what, () => {
    assert.deepEqual(planUnit(c.intent, c.units, c.funds, DEFAULT_RULES, first), c.plan);
  });
