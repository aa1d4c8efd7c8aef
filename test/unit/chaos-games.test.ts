/**
 * The chaos suite's rooms and duels counts (chaos/games-tally.ts), their lines in the report, and
 * where each slot runs on the partition drill's hosts (chaos/hosts.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countDuels, countRooms, missedGameTargets, type StoredMessage } from '../../chaos/games-tally';
import { HOST_COUNT, hostIndexOf, PARTITIONED_SERVICE_INDEX, placementText } from '../../chaos/hosts';
import { gameLines, resultOf } from '../../chaos/report';
import type { MemberReceipts, SayRecord } from '../../chaos/rooms';
import { CLUSTER_ROLES, CLUSTER_SIZE, scenarioOf } from '../../chaos/scenarios';
import type { DuelRecord } from '../../chaos/duels';
import type { ScenarioCounts } from '../../chaos/tally';

const say = (text: string, extra: Partial<SayRecord> = {}): SayRecord => ({
  scenario: 0,
  room: 'r',
  text,
  outcome: 'ack',
  code: '',
  ...extra,
});
const member = (name: string, got: Record<string, number>, room = 'r'): MemberReceipts => ({
  name,
  room,
  received: new Map(Object.entries(got)),
  closed: 0,
});

test('rooms: every stored message once to every member; lost, missing, doubled and stored twice are counted apart', () => {
  const says = [
    say('a', { seq: 1 }),
    say('b', { seq: 2 }),
    say('lost', { seq: 9 }),
    say('moved', { seq: 3 }),
    say('twice', { seq: 5 }),
    say('failed', { outcome: 'failed', code: 'UNAVAILABLE' }),
    say('unknown', { outcome: 'unknown', code: 'TIMEOUT' }),
    say('refused', { code: 'BAD_REQUEST' }),
    say('other scenario', { scenario: 1, seq: 8 }),
  ];
  const stored: StoredMessage[] = [
    { room: 'r', seq: 1, text: 'a' },
    { room: 'r', seq: 2, text: 'b' },
    { room: 'r', seq: 4, text: 'moved' },
    { room: 'r', seq: 5, text: 'twice' },
    { room: 'r', seq: 6, text: 'twice' },
    { room: 'r', seq: 7, text: 'failed' },
    { room: 'r', seq: 8, text: 'unknown' },
    { room: 'r', seq: 9, text: 'other scenario' },
  ];
  const all = { a: 1, b: 1, moved: 1, twice: 1, failed: 1, unknown: 1, 'other scenario': 1 };
  const members = [
    member('m1', all),
    member('m2', { ...all, b: 2, unknown: 0, lost: 1 }),
    member('elsewhere', { a: 5 }, 'other room'),
  ];
  const c = countRooms(0, says, stored, members);
  assert.equal(c.acked, 5, 'says answered with a message; a refusal is not one');
  assert.equal(c.lost, 2, 'absent from Postgres, or stored under another seq than the reply gave');
  assert.equal(c.storedTwice, 1);
  assert.equal(c.failedButStored, 1);
  assert.equal(c.unknownStored, 1);
  assert.equal(c.deliveriesExpected, 12, '6 stored messages of scenario 0 × 2 members of the room');
  assert.equal(c.delivered, 11);
  assert.equal(c.missing, 1, 'm2 never got the stored outcome-unknown say');
  assert.equal(c.doubled, 1, 'm2 got b twice');
  assert.equal(c.receivedUnstored, 1, 'm2 got a message Postgres does not hold');
  assert.equal(c.ackedToAll, 3, 'a, moved and twice reached both members once (b went twice to m2)');
  const misses = missedGameTargets(scenarioOf({ kind: 'sigkill', role: 'chat' }), {
    rooms: c,
    duels: countDuels(0, []),
  });
  for (const what of [/2 acknowledged say\(s\) lost/, /1 delivery\(ies\) missing/, /1 message\(s\) received twice/])
    assert.ok(
      misses.some((m) => what.test(m)),
      `${what} in ${misses.join('; ')}`,
    );
  assert.equal(misses.length, 6);
});

test('rooms: a clean scenario misses nothing, and its line says every member got every acknowledged say', () => {
  const c = countRooms(0, [say('a', { seq: 1 })], [{ room: 'r', seq: 1, text: 'a' }], [member('m1', { a: 1 })]);
  const games = { rooms: c, duels: countDuels(0, []) };
  assert.deepEqual(missedGameTargets(scenarioOf({ kind: 'rolling', role: 'chat' }), games), []);
  assert.match(gameLines(games)[0]!, /says acknowledged 1, received once by every member 1 {2}deliveries 1 of 1/);
});

test('duels: started, finished by reason, the rest by code; unfinished only misses across a rolling restart', () => {
  const d = (outcome: string, reason = '', scenario = 0): DuelRecord => ({
    scenario,
    startedAt: 1,
    endedAt: 2,
    outcome,
    reason,
  });
  const duels = [d('finished', 'shot'), d('finished', 'shot'), d('STATE_LOST'), d('finished', 'shot', 1)];
  const c = countDuels(0, duels);
  assert.deepEqual(c, { started: 3, finished: 2, byEnd: { 'finished shot': 2, STATE_LOST: 1 } });
  const rooms = countRooms(0, [], [], []);
  assert.deepEqual(missedGameTargets(scenarioOf({ kind: 'sigkill', role: 'duel' }), { rooms, duels: c }), []);
  assert.deepEqual(missedGameTargets(scenarioOf({ kind: 'rolling', role: 'duel' }), { rooms, duels: c }), [
    '1 duel(s) did not finish across a rolling restart (finished shot 2, STATE_LOST 1)',
  ]);
  assert.match(
    gameLines({ rooms, duels: c })[1]!,
    /duels: started 3 {2}finished 2 \(finished shot 2, STATE_LOST 1\) {2}STATE_LOST 1/,
  );
  const counts = { attempted: 1, acknowledged: 1 } as ScenarioCounts;
  const r = resultOf(scenarioOf({ kind: 'rolling', role: 'duel' }), { ...zero(), ...counts }, 1, [], [], {
    rooms,
    duels: c,
  });
  assert.equal(r.missed.length, 1, 'the game targets are part of the scenario verdict');
});

function zero(): ScenarioCounts {
  return {
    attempted: 0,
    acknowledged: 0,
    refused: {},
    failed: 0,
    failedByCode: {},
    unknown: 0,
    unknownByCode: {},
    lost: 0,
    failedButApplied: 0,
    unknownApplied: 0,
    invariantViolations: 0,
    falseDeaths: [],
    crashes: [],
    recoverMs: 0,
  };
}

test('hosts: discovery, brokers, then one host per service instance; the cut host holds one instance of every service', () => {
  const slots = CLUSTER_ROLES.flatMap((role) =>
    Array.from({ length: CLUSTER_SIZE[role] }, (_, index) => ({ role, index })),
  );
  for (const s of slots) assert.ok(hostIndexOf(s) >= 0 && hostIndexOf(s) < HOST_COUNT, `${s.role}#${s.index}`);
  const cut = slots.filter((s) => hostIndexOf(s) === hostIndexOf({ role: 'player', index: PARTITIONED_SERVICE_INDEX }));
  assert.deepEqual(
    cut.map((s) => `${s.role}#${s.index}`),
    ['sso#1', 'player#1', 'duel#1', 'chat#1', 'leaderboard#1'],
  );
  assert.deepEqual(placementText(slots), [
    'h1: yellow#0 yellow#1 brokerlist#0',
    'h2: broker#0 broker#1',
    'h3: sso#0 player#0 duel#0 chat#0 leaderboard#0',
    'h4: sso#1 player#1 duel#1 chat#1 leaderboard#1',
  ]);
});
