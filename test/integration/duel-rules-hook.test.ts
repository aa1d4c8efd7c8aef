/**
 * A duel table plays by the rules its module was given (`createDuelModule({ rules })`), on a real
 * (embedded) database: duel state is stored with every accepted action.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../shared/log';
import { PgliteDb } from '../../shared/data/pglite';
import { migrate } from '../../shared/data/migrate';
import type { ServiceEnv } from '../../rpc/api';
import { ErrorCode, GameError } from '../../shared/protocol';
import { duelRules, standardRules, type DuelRules } from '../../services/api';
import { Actions, act, type Game } from '../../services/duel/rules';
import { DuelTable } from '../../services/duel/table';
import { duelMigrations } from '../../services/duel/migrations';
import { duelOptions } from '../../services/duel';

test('a duel table plays by the studio rules: here, shooting before drawing is refused, not a misfire', async (t) => {
  const db = new PgliteDb({ logger: silentLogger() });
  await db.start();
  t.after(() => db.close());
  await migrate(db, 'duel', duelMigrations);
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
  const table = new DuelTable(
    env,
    db,
    opts,
    silentLogger(),
    () => undefined,
    () => false,
  );
  const seat = (u: string) => ({ userId: u, username: u, sessionId: `s-${u}`, via: 'broker-1' });
  await table.create('d1', seat('ann'), seat('bob'), 0);

  await assert.rejects(
    table.act('d1', 'ann', Actions.SHOOT),
    (e: unknown) => e instanceof GameError && e.code === ErrorCode.CONFLICT && e.message === 'draw first',
  );
  const g: Game = await table.act('d1', 'ann', Actions.DRAW);
  assert.deepEqual([g.finished, g.drawn], [false, ['ann']]);
  assert.deepEqual(pushes, ['s-ann', 's-bob'], 'the draw was pushed to both players');
  // the standard rules would have ended it: a misfire
  const standard = standardRules.act(g, 'bob', Actions.SHOOT, Date.now(), 60_000);
  assert.ok(standard.ok && standard.game.finished && standard.game.reason === 'misfire');
});
