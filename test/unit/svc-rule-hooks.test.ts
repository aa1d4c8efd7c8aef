/**
 * The built-ins' rule hooks a project passes to their module factories (exported from `noon`):
 * `createPlayerModule({ roundOutcome })` decides rounds by the studio's rule, checked before it
 * touches a wallet; `createDuelModule({ rules })` plays duels by the studio's `act`/`expire`.
 * Pure: the duel table below is given no database (the actions tested never finish a duel).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../shared/log';
import type { Db } from '../../shared/data/sql';
import type { ServiceEnv } from '../../rpc/api';
import { ErrorCode, GameError } from '../../shared/protocol';
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
import { Actions, act, type Game } from '../../services/duel/rules';
import { DuelTable } from '../../services/duel/table';
import { duelOptions } from '../../services/duel';

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

test('a duel table plays by the studio rules: here, shooting before drawing is refused, not a misfire', async () => {
  // The studio's variant: SHOOT before one's own DRAW is refused instead of losing the duel.
  const drawFirst: DuelRules['act'] = (g, userId, action, now, turnMs) =>
    action === Actions.SHOOT && !g.drawn.includes(userId)
      ? { ok: false, code: 'CONFLICT', message: 'draw first', game: g }
      : act(g, userId, action, now, turnMs);
  const pushes: string[] = [];
  const env = {
    instanceId: 'duel-1',
    push: (sessionId: string) => pushes.push(sessionId) > 0,
  } as unknown as ServiceEnv;
  const opts = { ...duelOptions(60_000), rules: duelRules({ act: drawFirst }) };
  const table = new DuelTable(env, {} as Db, opts, silentLogger(), () => undefined);
  const seat = (u: string) => ({ userId: u, username: u, sessionId: `s-${u}`, via: 'broker-1' });
  table.create('d1', seat('ann'), seat('bob'), 0);

  await assert.rejects(
    table.act('d1', 'ann', Actions.SHOOT),
    (e: unknown) => e instanceof GameError && e.code === ErrorCode.CONFLICT && e.message === 'draw first',
  );
  const g: Game = await table.act('d1', 'ann', Actions.DRAW);
  assert.deepEqual([g.finished, g.drawn], [false, ['ann']]);
  assert.deepEqual(pushes, ['s-ann', 's-bob'], 'the draw was pushed to both players');
  // the standard rules would have ended it: a misfire
  const standard = standardRules.act(table.get('d1', 'bob'), 'bob', Actions.SHOOT, Date.now(), 60_000);
  assert.ok(standard.ok && standard.game.finished && standard.game.reason === 'misfire');
});
