/** The chaos suite's scenario table (chaos/scenarios.ts) and how it classifies what a call rejected with. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as thrift from 'thrift';
import { ClientError } from '../../client';
import { CLUSTER_ROLES, CLUSTER_SIZE, scenarioTable } from '../../chaos/scenarios';
import { parseArgs, scenariosOf } from '../../chaos/main';
import { outcomeOf } from '../../chaos/workload';
import { ErrorCode, GameError } from '../../shared/protocol';

test('the full table rolls and SIGKILLs every role and drills every other fault', () => {
  const full = scenarioTable({ short: false, partition: false });
  for (const role of CLUSTER_ROLES) {
    assert.ok(
      full.some((s) => s.name === `rolling ${role}`),
      `rolling ${role}`,
    );
    assert.ok(
      full.some((s) => s.name === `sigkill ${role}`),
      `sigkill ${role}`,
    );
  }
  for (const name of ['sigstop player 5s', 'stall player 2s', 'restart postgres', 'kill redis shard 0'])
    assert.ok(
      full.some((s) => s.name === name),
      name,
    );
  assert.equal(new Set(full.map((s) => s.name)).size, full.length, 'names are unique');
  assert.ok(!full.some((s) => s.fault.kind === 'partition'), 'the partition only when asked');
  assert.ok(scenarioTable({ short: false, partition: true }).some((s) => s.fault.kind === 'partition'));
});

test('targets per fault: no failure in a rolling restart, unknown outcomes only where something is killed', () => {
  for (const s of scenarioTable({ short: false, partition: true })) {
    assert.equal(s.failedAllowed, s.fault.kind !== 'rolling', s.name);
    const kills = ['sigkill', 'redis-kill', 'pg-restart', 'partition'].includes(s.fault.kind);
    assert.equal(s.unknownAllowed, kills, s.name);
  }
});

test('the short form: one rolling restart of a service, one SIGKILL of a player, one SIGSTOP', () => {
  assert.deepEqual(
    scenarioTable({ short: true, partition: false }).map((s) => s.name),
    ['rolling player', 'sigkill player', 'sigstop player 5s'],
  );
  assert.equal(CLUSTER_SIZE.broker, 2);
  assert.equal(CLUSTER_SIZE.yellow, 2);
});

test('a rejected call: game refusals are answers, timeouts and drops unknown, the rest failed by code', () => {
  const game = new GameError({ code: ErrorCode.INSUFFICIENT_FUNDS, message: 'poor', retryable: false });
  assert.deepEqual(outcomeOf(game), { outcome: 'ack', code: 'INSUFFICIENT_FUNDS' });
  assert.deepEqual(outcomeOf(new ClientError('CONNECTION_LOST', 'x', { outcomeUnknown: true })), {
    outcome: 'unknown',
    code: 'CONNECTION_LOST',
  });
  assert.deepEqual(outcomeOf(new ClientError('TIMEOUT', 'x')), { outcome: 'unknown', code: 'TIMEOUT' });
  const broker = (m: string): Error =>
    new thrift.Thrift.TApplicationException(thrift.Thrift.TApplicationExceptionType.UNKNOWN, m);
  assert.deepEqual(outcomeOf(broker('UNAVAILABLE: no instance')), { outcome: 'failed', code: 'UNAVAILABLE' });
  assert.deepEqual(outcomeOf(broker('TIMEOUT: no reply')), { outcome: 'unknown', code: 'TIMEOUT' });
  assert.deepEqual(outcomeOf(new ClientError('BUSY', 'queue full')), { outcome: 'failed', code: 'BUSY' });
  assert.deepEqual(outcomeOf(new Error('weird')), { outcome: 'failed', code: 'NO_CODE' });
});

test('options: --short, --players, --partition, --no-partition, --json; anything else is named', () => {
  assert.deepEqual(parseArgs(['--short', '--players', '5']), {
    short: true,
    partition: false,
    players: 5,
    json: false,
  });
  assert.equal(parseArgs([]).partition, true, 'the full run drills the partition');
  assert.equal(parseArgs(['--no-partition']).partition, false);
  assert.equal(parseArgs(['--partition', '--short']).partition, true, 'the short one only when asked');
  assert.throws(() => parseArgs(['--players', 'many']), /--players: expected 1\.\.1000, got many/);
  assert.throws(() => parseArgs(['--fast']), /unknown option "--fast"/);
});

test('--only picks scenarios of the full table by name, in its order; a name not in it is refused', () => {
  const o = parseArgs(['--only', 'sigstop player 5s, rolling player']);
  assert.deepEqual(o.only, ['sigstop player 5s', 'rolling player']);
  assert.equal(o.partition, false, 'on 127.0.0.1 unless the partition is picked');
  assert.deepEqual(
    scenariosOf(o).map((s) => s.name),
    ['rolling player', 'sigstop player 5s'],
  );
  assert.equal(parseArgs(['--only', 'partition service host 10s']).partition, true);
  assert.equal(parseArgs(['--only', 'rolling duel', '--partition']).partition, true, 'on the hosts when asked');
  assert.throws(
    () => scenariosOf(parseArgs(['--only', 'rolling plyer'])),
    /no scenario "rolling plyer"; the scenarios: rolling yellow/,
  );
  assert.throws(() => parseArgs(['--only', 'rolling player', '--short']), /leave out --short/);
});
