/** The chaos suite's counts and verdict (chaos/tally.ts, chaos/report.ts): every target, missed and met. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resultOf, scenarioText, verdictText } from '../../chaos/report';
import { scenarioOf } from '../../chaos/scenarios';
import { countScenario, missedTargets, NO_CODE, type CallRecord, type Outcome } from '../../chaos/tally';

const T0 = 1_000_000;
const facts = { startedAt: T0, endedAt: T0 + 10_000, expectedDown: new Set(['player-1']), invariantViolations: 0 };

function call(outcome: Outcome, code = '', extra: Partial<CallRecord> = {}): CallRecord {
  return { scenario: 0, method: 'Player:playRound', startedAt: T0 + 10, endedAt: T0 + 20, outcome, code, ...extra };
}

test('counts: attempted, acknowledged (game refusals among them), failed and unknown by code, lost, applied', () => {
  const calls = [
    call('ack', '', { write: 'u|a' }),
    call('ack', '', { write: 'u|gone' }),
    call('ack', 'INSUFFICIENT_FUNDS', { write: 'u|refused' }),
    call('failed', 'UNAVAILABLE', { write: 'u|f', endedAt: T0 + 1500 }),
    call('unknown', 'CONNECTION_LOST', { write: 'u|x', endedAt: T0 + 900 }),
    call('ack', '', { scenario: 1, write: 'u|other-scenario' }),
  ];
  const c = countScenario(0, calls, new Set(['u|a', 'u|f', 'u|x']), [], [], facts);
  assert.equal(c.attempted, 5);
  assert.equal(c.acknowledged, 3);
  assert.deepEqual(c.refused, { INSUFFICIENT_FUNDS: 1 });
  assert.equal(c.lost, 1, 'the acknowledged write that Postgres lacks; a refusal is not a write');
  assert.equal(c.failed, 1);
  assert.deepEqual(c.failedByCode, { UNAVAILABLE: 1 });
  assert.equal(c.failedButApplied, 1);
  assert.equal(c.unknown, 1);
  assert.equal(c.unknownApplied, 1);
  assert.equal(c.recoverMs, 1500, 'to the end of the last call that was not acknowledged');
});

test('deaths: only unexpected downs while the scenario ran are false; crashes in its window count', () => {
  const deaths = [
    { instanceId: 'player-1', role: 'player', at: T0 + 100 },
    { instanceId: 'chat-7', role: 'chat', at: T0 + 200 },
    { instanceId: 'duel-3', role: 'duel', at: T0 + 20_000 },
  ];
  const crashes = [
    { name: 'sso#1', at: T0 + 50, exit: 'SIGSEGV' },
    { name: 'sso#0', at: T0 - 50, exit: 'exit 1' },
  ];
  const c = countScenario(0, [call('ack')], new Set(), deaths, crashes, facts);
  assert.deepEqual(c.falseDeaths, ['chat chat-7']);
  assert.deepEqual(c.crashes, ['sso#1 (SIGSEGV)']);
});

test('targets: a clean scenario passes; each kind of miss is named', () => {
  const rolling = scenarioOf({ kind: 'rolling', role: 'player' });
  const kill = scenarioOf({ kind: 'sigkill', role: 'player' });
  const clean = countScenario(0, [call('ack', '', { write: 'w' })], new Set(['w']), [], [], facts);
  assert.deepEqual(missedTargets(rolling, clean), []);

  const failing = countScenario(0, [call('failed', 'UNAVAILABLE')], new Set(), [], [], facts);
  assert.match(missedTargets(rolling, failing).join(), /1 failed call\(s\) \(UNAVAILABLE 1\); none allowed/);
  assert.deepEqual(missedTargets(kill, failing), [], 'a SIGKILL may fail calls with a clear error');

  const unknown = countScenario(0, [call('unknown', 'TIMEOUT')], new Set(), [], [], facts);
  assert.deepEqual(missedTargets(kill, unknown), []);
  assert.match(
    missedTargets(scenarioOf({ kind: 'sigstop', role: 'player', ms: 5000 }), unknown).join(),
    /outcome-unknown call\(s\) \(TIMEOUT 1\); allowed only when something is killed/,
  );

  const lost = countScenario(0, [call('ack', '', { write: 'w' })], new Set(), [], [], facts);
  assert.match(missedTargets(kill, lost).join(), /1 acknowledged write\(s\) lost/);
  const unclear = countScenario(0, [call('failed', NO_CODE)], new Set(), [], [], facts);
  assert.match(missedTargets(kill, unclear).join(), /failed without an error code/);
  const broken = countScenario(0, [call('ack')], new Set(), [], [], { ...facts, invariantViolations: 2 });
  assert.match(missedTargets(kill, broken).join(), /2 money invariant violation/);
  assert.match(missedTargets(kill, countScenario(0, [], new Set(), [], [], facts)).join(), /no call was attempted/);
});

test('the report says ok or MISS per scenario and PASS or FAIL overall', () => {
  const s = scenarioOf({ kind: 'rolling', role: 'sso' });
  const good = resultOf(s, countScenario(0, [call('ack')], new Set(), [], [], facts), 9000, ['note']);
  const bad = resultOf(s, countScenario(0, [call('failed', 'BUSY')], new Set(), [], [], facts), 9000, []);
  assert.match(scenarioText(good), /^ok {3}rolling sso \(9\.0 s\)\n\s+attempted 1 {2}acknowledged 1/);
  assert.match(scenarioText(bad), /^MISS rolling sso[\s\S]*failed 1 \(BUSY 1\)[\s\S]*missed: 1 failed call/);
  assert.match(verdictText([good]), /^verdict: PASS, 1 of 1 scenarios/);
  assert.match(
    verdictText([good, bad]),
    /^verdict: FAIL, 1 of 2 scenarios missed a target\n.*\n {2}rolling sso: 1 failed/,
  );
  assert.match(verdictText([good], ['the cluster did not start']), /^verdict: FAIL/);
});
