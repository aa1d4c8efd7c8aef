/**
 * The load test against a whole cluster (`noon up` in a child process, data in a throwaway
 * Postgres database): 50 players for 10 s; every call the client sent is a call the brokers
 * counted and a reply or error the client received (nothing unaccounted), and afterwards every
 * balance equals its ledger sum and none is negative, every credit names its source and the staked
 * duels are zero-sum (stakes = payouts + refunds + what escrow still holds). Then the CLI command end to end (--json, --html).
 * sso runs with NOON_SCRYPT_N=1024 so that 50 registrations do not dominate 10 s on 2 cores.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadScenario, loadTest, type Report } from '../../loadtest';
import { DEFAULT_SCENARIO } from '../../cli/commands/loadtest';
import { startNoonUp, type NoonUp } from '../support/loadtest-cluster';
import { verdictOf } from '../../loadtest/verdict';

let up: NoonUp;
before(async () => {
  up = await startNoonUp({ NOON_SCRYPT_N: '1024' });
});
after(async () => {
  await up?.stop();
});

test('50 players for 10 s: sent = counted by the brokers = received; money invariant holds', async (t) => {
  const scenario = { ...loadScenario(DEFAULT_SCENARIO), players: 50, rampUpSeconds: 2, durationSeconds: 10 };
  const lines: string[] = [];
  const r: Report = await loadTest({
    scenario,
    brokerListUrl: up.brokerlist,
    yellow: [up.yellow],
    pgUrl: up.pgUrl,
    progress: (l) => lines.push(l),
  });
  t.diagnostic(
    `${r.totals.calls} calls, ${r.totals.callsPerSec} calls/s, p50 ${r.totals.p50Ms} ms, p99 ${r.totals.p99Ms} ms; brokers ${r.accounting.brokerCounted}`,
  );
  t.diagnostic(
    `per method (sent/brokers): ${r.methods.map((m) => `${m.method} ${m.count}/${m.brokerCounted}`).join(', ')}`,
  );
  assert.equal(r.cluster.error, null);
  assert.equal(r.players.started, 50);
  assert.equal(r.players.failed, 0);
  assert.ok(r.totals.calls > 500, `only ${r.totals.calls} calls`);
  assert.ok(lines.length >= 8, `progress lines: ${lines.length}`);
  const a = r.accounting;
  assert.equal(a.indeterminate, 0);
  assert.equal(a.notSent, 0);
  assert.equal(a.brokerCounted, a.sent);
  assert.equal(a.answered, a.sent);
  assert.equal(a.unaccounted, 0);
  for (const m of r.methods) assert.equal(m.brokerCounted, m.count, m.method);
  // dev:<productId>:<unique> receipts, credited by the development verifier this cluster runs
  const buys = r.methods.find((m) => m.method === 'Player:buyCurrency');
  assert.ok(buys && buys.count > 0, 'purchases were made');
  assert.deepEqual(buys.errors, {}, 'every purchase was credited');
  const broker = r.errorsByKind.broker ?? 0;
  assert.equal(broker, 0, JSON.stringify(r.methods.map((m) => m.errors)));
  assert.ok(r.money, 'money check ran');
  assert.equal(r.money.error, null);
  assert.ok(r.money.players >= 50, `players in the ledger: ${r.money.players}`);
  assert.equal(r.money.mismatched, 0, r.money.violations.join('; '));
  assert.equal(r.money.negative, 0, r.money.violations.join('; '));
  // staked duels (the default scenario stakes 10 soft): money in = money out, per duel, in SQL
  assert.equal(scenario.duel.stake > 0, true, 'the scenario stakes its duels');
  assert.ok(r.money.duels > 0, `duels that moved money: ${r.money.duels}`);
  assert.equal(r.money.duelsUnbalanced, 0, r.money.violations.join('; '));
  assert.equal(r.money.unsourcedCredits, 0);
  // players follow the game's rules (level to the cap before evolving, buy when broke): every
  // action that was played mostly succeeds, and the run passes
  for (const m of r.methods)
    assert.ok(m.ok >= m.count / 2, `${m.method}: ${m.ok} of ${m.count} succeeded (${JSON.stringify(m.errors)})`);
  const v = verdictOf(r);
  assert.equal(v.ok, true, v.failures.join('; '));
});

test('noon loadtest (CLI): --json report, --html file, exit 0', () => {
  const dir = mkdtempSync(join(tmpdir(), 'noon-lt-cli-'));
  try {
    const scenario = join(dir, 's.json');
    writeFileSync(
      scenario,
      JSON.stringify({
        name: 'cli',
        players: 5,
        rampUpSeconds: 0,
        durationSeconds: 3,
        thinkTimeMs: { min: 50, max: 100 },
        mix: { getProfile: 2, playRound: 1, leaderboardTop: 1 },
      }),
    );
    const html = join(dir, 'r.html');
    const r = spawnSync(
      process.execPath,
      [
        'bin/noon.js',
        'loadtest',
        '--brokerlist',
        up.brokerlist,
        '--yellow',
        up.yellow,
        '--scenario',
        scenario,
        '--json',
        '--html',
        html,
      ],
      {
        cwd: join(__dirname, '..', '..'),
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, NOON_PG_URL: up.pgUrl },
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.accounting.unaccounted, 0);
    assert.equal(report.money?.mismatched, 0);
    assert.match(readFileSync(html, 'utf8'), /<svg [^>]*>.*polyline/s);
    const remote = spawnSync(
      process.execPath,
      ['bin/noon.js', 'loadtest', '--brokerlist', 'http://192.0.2.1:7780', '--scenario', scenario],
      { cwd: join(__dirname, '..', '..'), encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(remote.status, 2);
    assert.match(remote.stderr, /not a loopback address; pass --allow-remote/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
