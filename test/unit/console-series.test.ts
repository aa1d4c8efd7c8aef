/**
 * The console's numbers from two scrapes: an instance's rates, and per method over several
 * brokers calls/s summed and p99 from merged buckets (not averaged p99s); a restarted instance's
 * counters going back are left out; the chart ring keeps its last points and only called methods.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { instanceRates, methodRates, SeriesRing, type Scrape } from '../../console/series';
import { parsePrometheus } from '../../shared/prometheus';

/** A scrape with, per method, calls by outcome and all calls in one latency bucket (le, in s). */
function scrape(at: number, methods: Record<string, { ok: number; error?: number; le: number }>): Scrape {
  const lines: string[] = [];
  for (const [method, m] of Object.entries(methods)) {
    lines.push(`noon_calls_total{method="${method}",outcome="ok"} ${m.ok}`);
    if (m.error !== undefined) lines.push(`noon_calls_total{method="${method}",outcome="error"} ${m.error}`);
    const n = m.ok + (m.error ?? 0);
    for (const le of [0.001, 0.01, 0.1, 1])
      lines.push(`noon_call_duration_seconds_bucket{le="${le}",method="${method}"} ${le >= m.le ? n : 0}`);
    lines.push(`noon_call_duration_seconds_bucket{le="+Inf",method="${method}"} ${n}`);
  }
  return { at, samples: parsePrometheus(lines.join('\n')) };
}

test("an instance's calls/s, errors/s and p99 between two scrapes", () => {
  const a = scrape(0, { 'Player:getWallet': { ok: 10, error: 0, le: 0.01 } });
  const b = scrape(2000, { 'Player:getWallet': { ok: 30, error: 4, le: 0.01 } });
  const r = instanceRates(a, b);
  assert.equal(r.callsPerSec, 12);
  assert.equal(r.errorsPerSec, 2);
  assert.equal(r.calls, 34);
  assert.equal(r.errors, 4);
  assert.ok(r.p99Ms !== undefined && r.p99Ms > 1 && r.p99Ms <= 10, `p99 in the 1..10 ms bucket: ${r.p99Ms}`);
  assert.deepEqual(instanceRates(undefined, b), { callsPerSec: 0, errorsPerSec: 0, calls: 34, errors: 4 });
});

test('per method over two brokers: calls/s add up and p99 comes from the merged buckets', () => {
  // broker 1: 99 fast calls of getWallet; broker 2: 1 slow one. Merged, p99 is in the fast
  // bucket (rank 99 of 100); an average of the two brokers' p99s would be ~500 ms.
  const pairs = [
    {
      before: scrape(0, { 'Player:getWallet': { ok: 0, le: 0.001 } }),
      after: scrape(1000, { 'Player:getWallet': { ok: 99, le: 0.001 } }),
    },
    {
      before: scrape(0, { 'Player:getWallet': { ok: 0, le: 1 } }),
      after: scrape(1000, { 'Player:getWallet': { ok: 1, le: 1 } }),
    },
  ];
  const r = methodRates(pairs).get('Player:getWallet');
  assert.equal(r?.callsPerSec, 100);
  assert.ok(r?.p99Ms !== undefined && r.p99Ms <= 1, `p99 from merged buckets: ${r?.p99Ms}`);
});

test("a restarted broker's counters going back leave it out", () => {
  const pairs = [
    {
      before: scrape(0, { 'Player:getWallet': { ok: 500, le: 0.01 } }),
      after: scrape(1000, { 'Player:getWallet': { ok: 3, le: 0.01 } }),
    },
    {
      before: scrape(0, { 'Player:getWallet': { ok: 0, le: 0.01 } }),
      after: scrape(1000, { 'Player:getWallet': { ok: 7, le: 0.01 } }),
    },
  ];
  assert.equal(methodRates(pairs).get('Player:getWallet')?.callsPerSec, 7);
});

test('the ring keeps the last points, and only methods that were called', () => {
  const ring = new SeriesRing(3);
  for (let i = 1; i <= 5; i++)
    ring.push(
      i * 1000,
      new Map([
        ['A:x', { callsPerSec: i, p99Ms: 2 }],
        ['B:never', { callsPerSec: 0 }],
      ]),
    );
  const body = ring.toJSON();
  assert.deepEqual(body.times, [3, 4, 5]);
  assert.deepEqual(body.methods, [{ method: 'A:x', callsPerSec: [3, 4, 5], p99Ms: [2, 2, 2] }]);
  assert.throws(() => new SeriesRing(1), /at least 2 points/);
});
