import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  evolveCost,
  evolveRefusal,
  levelCap,
  levelForXp,
  levelUpCost,
  levelUpRefusal,
  MAX_PLAYER_LEVEL,
  MAX_STARS,
  MAX_UNIT_LEVEL,
  roundOutcome,
  roundRoll,
  winChance,
  xpForLevel,
} from '../../services/player/rules';

test('levelUp costs 100 x level soft and stops at the star cap and at level 30', () => {
  assert.deepEqual(levelUpCost({ level: 1, stars: 1 }), { soft: 100, hard: 0 });
  assert.deepEqual(levelUpCost({ level: 29, stars: 3 }), { soft: 2900, hard: 0 });
  assert.equal(levelUpRefusal({ level: 9, stars: 1 }), undefined);
  assert.match(levelUpRefusal({ level: 10, stars: 1 }) ?? '', /cap 10/);
  assert.equal(levelUpRefusal({ level: 10, stars: 2 }), undefined);
  assert.match(levelUpRefusal({ level: MAX_UNIT_LEVEL, stars: MAX_STARS }) ?? '', /maximum level 30/);
  assert.deepEqual([1, 2, 3].map(levelCap), [10, 20, 30]);
});

test('evolve needs the unit at its cap, below max stars, and costs 500 x stars soft + 10 x stars hard', () => {
  assert.match(evolveRefusal({ level: 9, stars: 1 }) ?? '', /level 10/);
  assert.equal(evolveRefusal({ level: 10, stars: 1 }), undefined);
  assert.equal(evolveRefusal({ level: 20, stars: 2 }), undefined);
  assert.match(evolveRefusal({ level: 30, stars: MAX_STARS }) ?? '', /maximum 3 stars/);
  assert.deepEqual(evolveCost({ level: 10, stars: 1 }), { soft: 500, hard: 10 });
  assert.deepEqual(evolveCost({ level: 20, stars: 2 }), { soft: 1000, hard: 20 });
});

test('player level follows total xp thresholds 50 x L x (L-1), capped', () => {
  assert.deepEqual([0, 99, 100, 299, 300, 600].map(levelForXp), [1, 1, 2, 2, 3, 4]);
  for (let l = 1; l < 20; l++) {
    assert.equal(levelForXp(xpForLevel(l)), l);
    assert.equal(levelForXp(xpForLevel(l + 1) - 1), l);
  }
  assert.equal(levelForXp(Number.MAX_SAFE_INTEGER), MAX_PLAYER_LEVEL);
});

test('win chance is clamped to [0.1, 0.95]', () => {
  assert.equal(winChance(1, 1), 0.5);
  assert.equal(winChance(1, 1000), 0.1);
  assert.equal(winChance(100, 1), 0.95);
});

test('round outcomes are deterministic per (user, key, stage) and vary across keys', () => {
  const a = roundOutcome('u1', 'k1', 3, 5);
  for (let i = 0; i < 5; i++) assert.deepEqual(roundOutcome('u1', 'k1', 3, 5), a);
  let wins = 0;
  const n = 2000;
  for (let i = 0; i < n; i++) {
    const r = roundOutcome('u1', `key-${i}`, 1, 1);
    if (r.won) {
      wins++;
      assert.deepEqual(r, { won: true, softReward: 30, xpGained: 15 });
    } else assert.deepEqual(r, { won: false, softReward: 0, xpGained: 2 });
  }
  // 0.5 expected; 2000 draws put the observed rate within ±0.05 with overwhelming probability
  assert.ok(Math.abs(wins / n - 0.5) < 0.05, `win rate ${wins / n}`);
  assert.notEqual(roundRoll('u1', 'k', 1), roundRoll('u2', 'k', 1));
  const roll = roundRoll('u', 'k', 1);
  assert.ok(roll >= 0 && roll < 1);
});
