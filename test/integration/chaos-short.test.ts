/**
 * The chaos suite's short form (`npm run chaos -- --short`), as CI runs it: a cluster of separate
 * `noon start` processes on the tool's own Postgres and Redis shards, a rolling restart of the
 * player service, a SIGKILL of a player instance and a 5 s SIGSTOP of one, under load. It must
 * pass, and every scenario's counts must show exactly zero lost writes, invariant violations,
 * false deaths and crashes, with every attempted call accounted for; in the rooms, every
 * acknowledged say received exactly once by every member; and duels played to the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestProcess } from '../support/process';
import type { ScenarioResult } from '../../chaos/report';

test('npm run chaos -- --short passes with exact zero lost', { timeout: 300_000 }, async () => {
  const p = new TestProcess(['--import', 'tsx', 'chaos/main.ts', '--short', '--json'], { ...process.env }, 'chaos');
  const exit = await p.exited;
  const line = p.stdout.find((l) => l.startsWith('{'));
  assert.ok(line, `a JSON verdict on stdout\n${p.tail(40)}`);
  const out = JSON.parse(line) as { ok: boolean; results: ScenarioResult[] };
  const names = out.results.map((r) => r.scenario.name);
  assert.deepEqual(names, ['rolling player', 'sigkill player', 'sigstop player 5s']);
  for (const r of out.results) {
    const c = r.counts;
    const what = `${r.scenario.name}: ${JSON.stringify(c)}; missed ${r.missed.join('; ')}`;
    assert.ok(c.attempted > 100, `${what}: the workload ran`);
    assert.equal(c.acknowledged + c.failed + c.unknown, c.attempted, what);
    assert.equal(c.lost, 0, what);
    assert.equal(c.invariantViolations, 0, what);
    assert.deepEqual(c.falseDeaths, [], what);
    assert.deepEqual(c.crashes, [], what);
    assert.equal(c.failedButApplied, 0, what);
    if (r.scenario.fault.kind === 'rolling') assert.equal(c.failed, 0, what);
    if (!r.scenario.unknownAllowed) assert.equal(c.unknown, 0, what);
    const g = r.games;
    assert.ok(g, `${what}: rooms and duels counted`);
    const games = `${r.scenario.name}: ${JSON.stringify(g)}`;
    assert.ok(g.rooms.acked > 10, `${games}: says acknowledged`);
    assert.equal(g.rooms.ackedToAll, g.rooms.acked, `${games}: every acknowledged say reached every member once`);
    assert.equal(g.rooms.delivered, g.rooms.deliveriesExpected, games);
    for (const k of ['missing', 'doubled', 'lost', 'storedTwice', 'failedButStored', 'receivedUnstored'] as const)
      assert.equal(g.rooms[k], 0, `${games}: ${k}`);
    assert.ok(g.duels.started > 0, `${games}: duels played`);
    if (r.scenario.fault.kind === 'rolling') assert.equal(g.duels.finished, g.duels.started, games);
    assert.deepEqual(r.missed, [], what);
  }
  assert.equal(out.ok, true);
  assert.deepEqual(exit, { code: 0, signal: null }, p.tail(40));
});
