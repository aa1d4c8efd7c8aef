/** When a load test passes, and what it says in words (loadtest/verdict.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MethodRow, Report } from '../../loadtest/report';
import { verdictOf } from '../../loadtest/verdict';

function row(method: string, ok: number, errors: Record<string, number> = {}): MethodRow {
  const count = ok + Object.values(errors).reduce((a, b) => a + b, 0);
  return { method, count, ok, errors, callsPerSec: 0, brokerCounted: count, p50Ms: 1, p90Ms: 1, p99Ms: 1, maxMs: 1 };
}

function report(
  methods: MethodRow[],
  extra: { failedPlayers?: number; unaccounted?: number; late?: number } = {},
): Report {
  const sent = methods.reduce((a, m) => a + m.count, 0);
  return {
    methods,
    players: { started: 10, failed: extra.failedPlayers ?? 0, late: extra.late ?? 0, peakPlaying: 10 },
    connectFailures: { count: 0, samples: [] },
    accounting: {
      sent,
      notSent: 0,
      answered: sent,
      indeterminate: 0,
      brokerCounted: sent,
      brokerOutcomes: {},
      unaccounted: extra.unaccounted ?? 0,
    },
    money: null,
    scenario: {
      mix: Object.fromEntries(methods.filter((m) => m.method === 'Player:playRound').map(() => ['playRound', 1])),
    },
  } as unknown as Report;
}

const cases: { what: string; r: Report; ok: boolean; says: RegExp[] }[] = [
  { what: 'all calls succeed', r: report([row('Player:playRound', 100), row('Sso:register', 10)]), ok: true, says: [] },
  {
    what: 'game refusals are not platform failures, but an action that never succeeds is said',
    r: report([row('Player:playRound', 100), row('Player:evolve', 0, { 'game:CONFLICT': 20 })]),
    ok: true,
    says: [/Player:evolve never succeeded: 20 calls, game:CONFLICT=20/],
  },
  {
    what: 'platform failures over 2 % fail the run, named by code',
    r: report([row('Player:playRound', 90, { 'broker:UNAVAILABLE': 6, 'timeout:TIMEOUT': 4 })]),
    ok: false,
    says: [/10 of 100 calls failed for platform reasons \(over 2 %\): broker:UNAVAILABLE=6 timeout:TIMEOUT=4/],
  },
  {
    what: 'a few platform failures pass with a note',
    r: report([row('Player:playRound', 999, { 'broker:BUSY': 1 })]),
    ok: true,
    says: [/1 of 1000 calls failed for platform reasons: broker:BUSY=1/],
  },
  {
    what: 'a player that could not sign in fails the run',
    r: report([row('Player:playRound', 100)], { failedPlayers: 3 }),
    ok: false,
    says: [/3 of 10 simulated players could not connect or sign in/],
  },
  {
    what: 'players still waiting for their sign-in turn at the end are said, not failed',
    r: report([row('Player:playRound', 100)], { late: 4 }),
    ok: true,
    says: [/4 of 10 players were still waiting to sign in when the run ended/],
  },
  {
    what: 'calls the brokers and the client disagree on fail the run',
    r: report([row('Player:playRound', 100)], { unaccounted: 2 }),
    ok: false,
    says: [/2 calls are unaccounted for/],
  },
];

for (const c of cases)
  test(c.what, () => {
    const v = verdictOf(c.r);
    assert.equal(v.ok, c.ok, JSON.stringify(v));
    const lines = [...v.failures, ...v.notes].join('\n');
    for (const re of c.says) assert.match(lines, re);
    if (c.says.length === 0) assert.equal(lines, '');
  });

test('an action of the mix that never reached its call is said, with the likely reason', () => {
  const r = report([row('Player:playRound', 10), row('Player:levelUp', 5)]);
  (r.scenario as { mix: Record<string, number> }).mix = { playRound: 1, levelUp: 1, evolve: 1 };
  const v = verdictOf(r);
  assert.equal(v.ok, true);
  assert.deepEqual(v.notes, [
    'evolve was never played as Player:evolve: no unit reached its level cap in this run; those turns levelled units up towards it',
  ]);
});
