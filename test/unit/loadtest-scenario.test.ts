/** Scenario validation (every error names its field), overrides, and the weighted action pick. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_SCENARIO } from '../../cli/commands/loadtest';
import {
  ACTIONS,
  loadScenario,
  parseScenario,
  pickAction,
  ScenarioError,
  withOverrides,
} from '../../loadtest/scenario';

const base = { players: 10, durationSeconds: 5, mix: { getProfile: 1 } };

function fieldOf(raw: unknown): string {
  try {
    parseScenario(raw);
  } catch (err) {
    assert.ok(err instanceof ScenarioError, String(err));
    return err.field;
  }
  assert.fail('expected a ScenarioError');
}

test('the shipped default scenario is valid and weights every action', () => {
  const s = loadScenario(DEFAULT_SCENARIO);
  assert.equal(s.name, 'default');
  for (const a of ACTIONS) assert.ok(s.mix[a] > 0, a);
  assert.ok(s.durationSeconds !== undefined && s.durationSeconds > 0);
});

test('defaults fill what a minimal scenario leaves out', () => {
  const s = parseScenario(base);
  assert.deepEqual(s.thinkTimeMs, { min: 500, max: 1500 });
  assert.equal(s.accounts.mode, 'register');
  assert.equal(s.chat.rooms, 10);
  assert.equal(s.mix.playRound, 0);
  assert.equal(s.callTimeoutMs, 5000);
});

test('errors name the field', () => {
  assert.equal(fieldOf({ ...base, players: undefined }), 'players');
  assert.equal(fieldOf({ ...base, players: 2.5 }), 'players');
  assert.equal(fieldOf({ ...base, players: 0 }), 'players');
  assert.equal(fieldOf({ players: 1, mix: { getProfile: 1 } }), 'durationSeconds');
  assert.equal(fieldOf({ ...base, mix: { getProfile: -1 } }), 'mix.getProfile');
  assert.equal(fieldOf({ ...base, mix: { fly: 3 } }), 'mix.fly');
  assert.equal(fieldOf({ ...base, mix: { getProfile: 0 } }), 'mix');
  assert.equal(fieldOf({ ...base, mix: { getProfile: '2' } }), 'mix.getProfile');
  assert.equal(fieldOf({ ...base, thinkTimeMs: { min: 100, max: 50 } }), 'thinkTimeMs.max');
  assert.equal(fieldOf({ ...base, accounts: { mode: 'guest' } }), 'accounts.mode');
  assert.equal(fieldOf({ ...base, accounts: { password: 'short' } }), 'accounts.password');
  assert.equal(fieldOf({ ...base, chat: { rooms: 0 } }), 'chat.rooms');
  assert.equal(fieldOf({ ...base, duel: { stake: -5 } }), 'duel.stake');
  assert.equal(fieldOf({ ...base, leaderboard: { board: 'bad board' } }), 'leaderboard.board');
  assert.equal(fieldOf({ ...base, plyers: 3 }), 'plyers');
  assert.equal(fieldOf([]), '(root)');
  assert.match(String(new ScenarioError('mix.x', 'bad')), /scenario mix\.x: bad/);
});

test('maxActions alone is enough; overrides are validated like the file', () => {
  const s = parseScenario({ players: 3, maxActions: 100, mix: { playRound: 1 } });
  assert.equal(s.durationSeconds, undefined);
  assert.equal(s.maxActions, 100);
  const o = withOverrides(s, { players: 40, durationSeconds: 12 });
  assert.equal(o.players, 40);
  assert.equal(o.durationSeconds, 12);
  assert.throws(
    () => withOverrides(s, { players: -1 }),
    (e: unknown) => e instanceof ScenarioError && e.field === 'players',
  );
});

test('pickAction follows the weights and never picks a zero weight', () => {
  const mix = parseScenario({ ...base, mix: { playRound: 3, getProfile: 1 } }).mix;
  const counts = new Map<string, number>();
  for (let i = 0; i < 1000; i++) {
    const a = pickAction(mix, i / 1000);
    counts.set(a, (counts.get(a) ?? 0) + 1);
  }
  assert.deepEqual([...counts.keys()].sort(), ['getProfile', 'playRound']);
  assert.equal(counts.get('playRound'), 750);
  assert.equal(counts.get('getProfile'), 250);
  assert.equal(pickAction(mix, 0.9999999999999999), 'getProfile');
});
