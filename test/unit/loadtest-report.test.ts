/** Report math: HDR percentiles, error classification, the client/broker accounting, metrics parsing, money rows, targets, HTML. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as thrift from 'thrift';
import { ClientError } from '../../client';
import { ErrorCode, GameError } from '../../shared/protocol';
import { addSamples, diffCounters, emptyCounters, parsePrometheus, totalCalls } from '../../loadtest/cluster-metrics';
import { escapeHtml, niceMax, renderHtml } from '../../loadtest/html';
import { checkDuels, checkRows, moneyFailed } from '../../loadtest/money';
import { account, buildReport, percentiles } from '../../loadtest/report';
import { formatText } from '../../loadtest/report-text';
import type { RunResult } from '../../loadtest/runner';
import { parseScenario } from '../../loadtest/scenario';
import { classify, newHistogram, Stats } from '../../loadtest/stats';
import { loopbackSources, planSources } from '../../loadtest/sources';
import { checkTarget, isLoopbackHost } from '../../loadtest/targets';

test('percentiles of 1..1000 ms are within HDR precision (3 digits)', () => {
  const h = newHistogram();
  for (let v = 1; v <= 1000; v++) h.recordValue(v * 1000);
  const p = percentiles(h);
  assert.ok(Math.abs(p.p50Ms - 500) <= 0.5, `p50 ${p.p50Ms}`);
  assert.ok(Math.abs(p.p90Ms - 900) <= 0.9, `p90 ${p.p90Ms}`);
  assert.ok(Math.abs(p.p99Ms - 990) <= 1, `p99 ${p.p99Ms}`);
  assert.ok(Math.abs(p.maxMs - 1000) <= 1, `max ${p.maxMs}`);
  assert.deepEqual(percentiles(newHistogram()), { p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0 });
  h.destroy();
});

test('classify: ok paths, game errors, broker errors, timeouts, drops, local refusals', () => {
  assert.deepEqual(classify(new GameError({ code: ErrorCode.CONFLICT, message: 'x' })), {
    kind: 'game',
    code: 'CONFLICT',
  });
  assert.deepEqual(
    classify(
      new thrift.Thrift.TApplicationException(
        thrift.Thrift.TApplicationExceptionType.UNKNOWN,
        'BUSY: player is saturated',
      ),
    ),
    { kind: 'broker', code: 'BUSY' },
  );
  assert.deepEqual(classify(new ClientError('TIMEOUT', 'slow')), { kind: 'timeout', code: 'TIMEOUT' });
  assert.deepEqual(classify(new ClientError('CONNECTION_LOST', 'gone')), {
    kind: 'disconnect',
    code: 'CONNECTION_LOST',
  });
  assert.deepEqual(classify(new ClientError('BUSY', 'buffer full')), { kind: 'notSent', code: 'BUSY' });
  assert.equal(classify(new Error('huh')).kind, 'other');
});

test('Stats books every call as answered, indeterminate or not sent', () => {
  const s = new Stats(0);
  for (const o of [
    { kind: 'ok', code: '' },
    { kind: 'game', code: 'CONFLICT' },
    { kind: 'timeout', code: 'TIMEOUT' },
    { kind: 'notSent', code: 'BUSY' },
  ] as const) {
    s.begin();
    s.end('Player:getProfile', 0, o, 1500);
  }
  assert.deepEqual(s.acct, { issued: 4, notSent: 1, answered: 2, indeterminate: 1 });
  assert.equal(s.inFlight, 0);
  const m = s.methods.get('Player:getProfile');
  assert.equal(m?.count, 4);
  assert.equal(m?.latency.totalCount, 2);
  assert.equal(s.series.length, 2);
  assert.deepEqual({ calls: s.series[1]?.calls, errors: s.series[1]?.errors }, { calls: 2, errors: 2 });
  s.destroy();
});

test('accounting: clean runs have nothing unaccounted; every mismatch shows', () => {
  const broker = (n: number) =>
    addSamples(emptyCounters(), [
      { name: 'noon_calls_total', labels: { method: 'Player:getProfile', outcome: 'ok' }, value: n },
    ]);
  const clean = account({ issued: 10, notSent: 0, answered: 10, indeterminate: 0 }, broker(10));
  assert.deepEqual([clean.sent, clean.brokerCounted, clean.answered, clean.unaccounted], [10, 10, 10, 0]);
  // a timed-out call the broker counted, or one it never saw: both explained
  assert.equal(account({ issued: 10, notSent: 0, answered: 9, indeterminate: 1 }, broker(10)).unaccounted, 0);
  assert.equal(account({ issued: 10, notSent: 0, answered: 9, indeterminate: 1 }, broker(9)).unaccounted, 0);
  // answers the brokers never counted, calls counted but never sent, local refusals excluded
  assert.equal(account({ issued: 10, notSent: 0, answered: 10, indeterminate: 0 }, broker(8)).unaccounted, 2);
  assert.equal(account({ issued: 10, notSent: 0, answered: 10, indeterminate: 0 }, broker(13)).unaccounted, 3);
  assert.equal(account({ issued: 12, notSent: 2, answered: 10, indeterminate: 0 }, broker(10)).unaccounted, 0);
  // the client's own books not closing (a call still in flight) counts too
  assert.equal(account({ issued: 10, notSent: 0, answered: 9, indeterminate: 0 }, broker(9)).unaccounted, 1);
  assert.equal(account({ issued: 10, notSent: 0, answered: 10, indeterminate: 0 }, undefined).unaccounted, null);
});

test('Prometheus text: calls by method and outcome, refusals, in flight; before/after difference', () => {
  const text = (ok: number, busy: number, limited: number) =>
    [
      '# HELP noon_calls_total calls by method and outcome',
      '# TYPE noon_calls_total counter',
      `noon_calls_total{method="Player:getProfile",outcome="ok",role="broker",instance="b1"} ${ok}`,
      `noon_calls_total{method="Player:getProfile",outcome="BUSY",role="broker",instance="b1"} ${busy}`,
      `noon_dropped_total{reason="rate_limited",role="broker",instance="b1"} ${limited}`,
      'noon_dropped_total{reason="slow_reader",role="broker",instance="b1"} 7',
      'noon_in_flight{role="broker",instance="b1"} 2',
      'noon_call_duration_seconds_bucket{le="0.005",method="Player:getProfile",role="broker",instance="b1"} 40',
    ].join('\n');
  const before = addSamples(emptyCounters(), parsePrometheus(text(5, 0, 1)));
  const after = addSamples(emptyCounters(), parsePrometheus(text(25, 3, 2)));
  const d = diffCounters(before, after);
  assert.equal(d.calls.get('Player:getProfile')?.get('ok'), 20);
  assert.equal(d.calls.get('Player:getProfile')?.get('BUSY'), 3);
  assert.equal(d.refused.get('rate_limited'), 1);
  assert.equal(totalCalls(d), 24);
  assert.equal(after.inFlight, 2);
  assert.deepEqual(parsePrometheus('x{a="q\\"uote"} 1')[0]?.labels, { a: 'q"uote' });
});

test('money rows: balance = ledger sum and never negative', () => {
  const ok = checkRows([{ user_id: 'u1', soft: '1500', hard: '20', soft_sum: '1500', hard_sum: '20', rows: '4' }]);
  assert.deepEqual([ok.players, ok.ledgerRows, ok.mismatched, ok.negative], [1, 4, 0, 0]);
  const bad = checkRows([
    { user_id: 'u1', soft: '1500', hard: '20', soft_sum: '1450', hard_sum: '20', rows: '4' },
    { user_id: 'u2', soft: '-1', hard: '0', soft_sum: '-1', hard_sum: '0', rows: '2' },
  ]);
  assert.deepEqual([bad.mismatched, bad.negative, bad.violations.length], [1, 1, 2]);
  assert.match(bad.violations[0] ?? '', /u1: balance soft 1500/);
});

test('duel rows: stakes taken, paid out, refunded and still held sum to zero per duel', () => {
  const cases: { name: string; moved: string; held: string; unbalanced: number }[] = [
    { name: 'paid: -10 -10 +20', moved: '0', held: '0', unbalanced: 0 },
    { name: 'still held: -10 -10, 20 in escrow', moved: '-20', held: '20', unbalanced: 0 },
    { name: 'refunded one stake only', moved: '-10', held: '0', unbalanced: 1 },
    { name: 'paid twice: +20 too many', moved: '20', held: '0', unbalanced: 1 },
  ];
  for (const c of cases) {
    const m = checkDuels(checkRows([]), [{ duel_id: 'd1', moved: c.moved, held: c.held }]);
    assert.equal(m.duels, 1, c.name);
    assert.equal(m.duelsUnbalanced, c.unbalanced, c.name);
    assert.equal(moneyFailed(m), c.unbalanced > 0, c.name);
    if (c.unbalanced) assert.match(m.violations[0] ?? '', /duel d1: ledger moved .* not zero-sum/, c.name);
  }
  assert.equal(checkDuels(checkRows([]), [{ duel_id: 'd2', moved: '-20', held: '20' }]).stakesHeld, 20);
  assert.ok(moneyFailed({ ...checkRows([]), unsourcedCredits: 1 }), 'a credit without a source fails the check');
});

test('targets: loopback only unless allowed', () => {
  for (const h of ['127.0.0.1', '127.4.5.6', 'localhost', '::1', '[::1]']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['10.0.0.1', 'example.com', '0.0.0.0', '128.0.0.1']) assert.ok(!isLoopbackHost(h), h);
  checkTarget('x', 'http://127.0.0.1:7780', false);
  checkTarget('x', '127.0.0.2:7800', false);
  assert.throws(() => checkTarget('BrokerList URL', 'http://example.com:7780', false), /--allow-remote/);
  checkTarget('x', 'http://example.com:7780', true);
});

function fakeRun(): RunResult {
  const stats = new Stats(0);
  const record = (method: string, ms: number, at: number, kind: 'ok' | 'game' = 'ok') => {
    stats.begin();
    stats.end(method, at - ms, { kind, code: kind === 'ok' ? '' : 'CONFLICT' }, at);
  };
  for (let i = 0; i < 100; i++) record('Player:getProfile', 1 + (i % 10), 100 + i * 10);
  for (let i = 0; i < 10; i++) record('Player:levelUp', 20, 1500 + i, i < 3 ? 'game' : 'ok');
  const scenario = parseScenario({ name: 'fake <run>', players: 2, durationSeconds: 2, mix: { getProfile: 1 } });
  return {
    runId: 'r1',
    scenario,
    stats,
    startedAtMs: 0,
    endedAtMs: 2000,
    activeSeconds: 2,
    endedBy: 'duration',
    players: { started: 2, failed: 0, late: 0, peakPlaying: 2 },
    connectFailures: { count: 0, samples: [] },
    clientLoopDelayMs: { p50: 10, p99: 12, max: 20 },
  };
}

test('buildReport: per-method rows, calls/s, series, accounting beside the brokers; text and HTML render it', () => {
  const run = fakeRun();
  const broker = addSamples(emptyCounters(), [
    { name: 'noon_calls_total', labels: { method: 'Player:getProfile', outcome: 'ok' }, value: 100 },
    { name: 'noon_calls_total', labels: { method: 'Player:levelUp', outcome: 'ok' }, value: 10 },
  ]);
  const r = buildReport(run, { before: emptyCounters(), after: broker, brokers: ['http://127.0.0.1:1/metrics'] }, null);
  const gp = r.methods.find((m) => m.method === 'Player:getProfile');
  assert.equal(gp?.count, 100);
  assert.equal(gp?.callsPerSec, 50);
  assert.ok(gp && Math.abs(gp.p50Ms - 5) <= 0.01 && Math.abs(gp.maxMs - 10) <= 0.01, JSON.stringify(gp));
  const lu = r.methods.find((m) => m.method === 'Player:levelUp');
  assert.deepEqual([lu?.ok, lu?.errors['game:CONFLICT'], lu?.brokerCounted], [7, 3, 10]);
  assert.deepEqual([r.totals.calls, r.totals.errors, r.errorsByKind.game], [110, 3, 3]);
  assert.equal(r.accounting.unaccounted, 0);
  assert.deepEqual(
    r.series.map((p) => p.calls),
    [90, 20],
  );
  const text = formatText(r);
  assert.match(text, /unaccounted\s+0 {2}OK/);
  assert.match(text, /Player:levelUp .* game:CONFLICT=3/);
  const html = renderHtml(r);
  assert.equal((html.match(/<svg /g) ?? []).length, 2);
  assert.ok(html.includes('fake &lt;run&gt;') && !html.includes('fake <run>'));
  assert.ok(!/<script|https?:\/\/(?!www\.w3\.org|127\.0\.0\.1)/.test(html), 'no scripts or external assets');
  assert.deepEqual([niceMax(0), niceMax(7), niceMax(23), niceMax(100)], [1, 10, 50, 100]);
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  run.stats.destroy();
});

test('source addresses: loopback only, enough for the players', () => {
  assert.deepEqual(loopbackSources(3), ['127.0.0.1', '127.0.0.2', '127.0.0.3']);
  assert.throws(() => loopbackSources(0), /1\.\.254/);
  assert.deepEqual(planSources(100, undefined, 28_232), []);
  assert.throws(() => planSources(60_000, undefined, 28_232), /need 3 source addresses .* --source-ip-count 3/);
  assert.deepEqual(planSources(60_000, loopbackSources(3), 28_232).length, 3);
  assert.throws(() => planSources(10, ['10.0.0.1'], 28_232), /not a loopback/);
});
