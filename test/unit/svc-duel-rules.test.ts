// The duel rules as a pure state machine: no clock, no sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { act, Actions, EndReasons, expire, newGame, type Game, type Outcome } from '../../services/duel/rules';

const TURN = 1000;
const start = (): Game => newGame('d1', ['ann', 'bob'], 10, 0, TURN);

function ok(o: Outcome): Game {
  assert.ok(o.ok, o.ok ? '' : `${o.code}: ${o.message}`);
  return o.game;
}

test('draw then shoot wins; the opponent loses', () => {
  let g = ok(act(start(), 'ann', Actions.DRAW, 100, TURN));
  assert.deepEqual(g.drawn, ['ann']);
  assert.equal(g.deadline, 1100, 'a valid action restarts the turn clock');
  g = ok(act(g, 'bob', Actions.DRAW, 200, TURN));
  g = ok(act(g, 'bob', Actions.SHOOT, 300, TURN));
  assert.deepEqual([g.finished, g.winner, g.loser, g.reason], [true, 'bob', 'ann', EndReasons.SHOT]);
});

test('a player who drew may shoot before the opponent draws', () => {
  const g = ok(act(ok(act(start(), 'ann', Actions.DRAW, 10, TURN)), 'ann', Actions.SHOOT, 20, TURN));
  assert.deepEqual([g.winner, g.loser, g.reason], ['ann', 'bob', EndReasons.SHOT]);
});

test('shooting before drawing is a misfire and loses', () => {
  const drawn = ok(act(start(), 'bob', Actions.DRAW, 10, TURN));
  const g = ok(act(drawn, 'ann', Actions.SHOOT, 20, TURN));
  assert.deepEqual([g.finished, g.winner, g.loser, g.reason], [true, 'bob', 'ann', EndReasons.MISFIRE]);
  const g2 = ok(act(start(), 'bob', Actions.SHOOT, 5, TURN));
  assert.deepEqual([g2.winner, g2.loser, g2.reason], ['ann', 'bob', EndReasons.MISFIRE]);
});

test('on timeout the player who did not draw forfeits', () => {
  const g = ok(act(start(), 'bob', Actions.DRAW, 500, TURN));
  assert.equal(expire(g, 1499), g, 'nothing happens before the deadline');
  const done = expire(g, 1500);
  assert.deepEqual([done.finished, done.winner, done.loser, done.reason], [true, 'bob', 'ann', EndReasons.TIMEOUT]);
});

test('both idle: the duel ends with no winner; both drawn and nobody shot: no winner either', () => {
  const idle = expire(start(), TURN);
  assert.deepEqual([idle.finished, idle.winner, idle.loser, idle.reason], [true, '', '', EndReasons.IDLE]);
  const both = ok(act(ok(act(start(), 'ann', Actions.DRAW, 1, TURN)), 'bob', Actions.DRAW, 2, TURN));
  const standoff = expire(both, 2 + TURN);
  assert.deepEqual([standoff.winner, standoff.reason], ['', EndReasons.STANDOFF]);
});

test('acting after the end is refused and changes nothing', () => {
  const over = ok(act(ok(act(start(), 'ann', Actions.DRAW, 1, TURN)), 'ann', Actions.SHOOT, 2, TURN));
  for (const [who, what] of [
    ['bob', Actions.DRAW],
    ['ann', Actions.SHOOT],
  ] as const) {
    const o = act(over, who, what, 3, TURN);
    assert.equal(o.ok, false);
    assert.equal(o.ok ? '' : o.code, 'CONFLICT');
    assert.equal(o.game, over);
  }
});

test('an action after the deadline (timer late) is refused and reports the timed-out result', () => {
  const g = ok(act(start(), 'ann', Actions.DRAW, 0, TURN));
  const o = act(g, 'bob', Actions.SHOOT, TURN + 5, TURN);
  assert.equal(o.ok, false);
  assert.deepEqual([o.game.finished, o.game.winner, o.game.reason], [true, 'ann', EndReasons.TIMEOUT]);
});

test('strangers are refused; drawing twice is refused', () => {
  const o = act(start(), 'eve', Actions.DRAW, 1, TURN);
  assert.equal(o.ok ? '' : o.code, 'FORBIDDEN');
  const g = ok(act(start(), 'ann', Actions.DRAW, 1, TURN));
  const again = act(g, 'ann', Actions.DRAW, 2, TURN);
  assert.equal(again.ok ? '' : again.code, 'CONFLICT');
});
