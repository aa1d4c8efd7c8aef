/**
 * The built-ins' rule hooks a project passes to their module factories (exported from `noon`):
 * `createPlayerModule({ roundOutcome })` decides rounds by the studio's rule, checked before it
 * touches a wallet; `createDuelModule({ rules })` plays duels by the studio's `act`/`expire`.
 * Pure; test/integration/duel-rules-hook.test.ts shows a duel table playing by a studio's rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createDuelModule,
  createPlayerModule,
  decideRound,
  duelRules,
  roundOutcome,
  standardRules,
  type DuelRules,
  type RoundRule,
} from '../../services/api';

const round = { userId: 'u1', key: 'k1', stage: 3, playerLevel: 2 };

test('decideRound: the standard rule by default, the studio rule when given', () => {
  assert.deepEqual(decideRound(undefined, round), roundOutcome('u1', 'k1', 3, 2));
  const alwaysWin: RoundRule = (r) => ({ won: true, softReward: 7 * r.stage, xpGained: 1 });
  assert.deepEqual(decideRound(alwaysWin, round), { won: true, softReward: 21, xpGained: 1 });
});

test('decideRound refuses an outcome that is not one, naming the field', () => {
  const bad =
    (o: unknown): RoundRule =>
    () =>
      o as ReturnType<RoundRule>;
  assert.throws(() => decideRound(bad({ won: 'yes', softReward: 1, xpGained: 1 }), round), /won must be a boolean/);
  assert.throws(
    () => decideRound(bad({ won: true, softReward: -5, xpGained: 1 }), round),
    /softReward must be an integer/,
  );
  assert.throws(() => decideRound(bad({ won: true, softReward: 1.5, xpGained: 1 }), round), /softReward/);
  assert.throws(() => decideRound(bad({ won: false, softReward: 0, xpGained: 2e9 }), round), /xpGained must be/);
});

test('createPlayerModule and createDuelModule are the built-ins with the hooks given', () => {
  const player = createPlayerModule({ roundOutcome: () => ({ won: true, softReward: 1, xpGained: 1 }) });
  assert.equal(player.role, 'player');
  assert.ok(player.migrations.length > 0);
  const duel = createDuelModule({ rules: { act: standardRules.act } });
  assert.equal(duel.role, 'duel');
});

test('duelRules: the studio rule replaces its part only', () => {
  const myAct: DuelRules['act'] = (g) => ({ ok: false, code: 'CONFLICT', message: 'no', game: g });
  const rules = duelRules({ act: myAct });
  assert.equal(rules.act, myAct);
  assert.equal(rules.expire, standardRules.expire);
});
