// Observability of `noon up` (NOON_LOG_LEVEL=debug): one request is followed by its trace id from
// the broker's `forward` line to sso and on to player (which sso called); the broker's /metrics
// counts calls by method exactly as sent.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { NoonClient } from '../../client/client';
import { parseProm, sum } from '../../cli/prom';
import Int64 from 'node-int64';
import { Currency, ErrorCode, SpendRequest } from '../../shared/protocol';
import { cleanEnv, clusterFlags, NoonProc, runNoon, tempDir } from '../support/cli-proc';

interface LogLine {
  pid?: number;
  role?: string;
  instance?: string;
  trace?: string;
  method?: string;
  msg?: string;
  level?: number;
}

const data = tempDir('noon-cli-obs-');
let up: NoonProc;
let ready: Record<string, unknown>;
let client: NoonClient;

function logs(): LogLine[] {
  return up.stderr.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
}

before(async () => {
  up = new NoonProc(['up', ...clusterFlags(data.dir)], cleanEnv({ NOON_LOG_LEVEL: 'debug' }));
  ready = await up.waitFor('ready line', () => up.jsonLine({ ready: 'up' }), 90_000);
  client = await NoonClient.viaBrokerList(String(ready.brokerlist), { reconnect: false, keepAliveMs: 0 });
});

after(async () => {
  client?.close();
  await up?.stop('SIGINT');
  data.remove();
});

test('every log line carries role and instance', () => {
  const lines = logs();
  assert.ok(lines.length > 0);
  const roles = new Set(lines.map((l) => l.role));
  for (const role of ['yellow', 'broker', 'brokerlist', 'sso', 'player']) assert.ok(roles.has(role), `logs of ${role}`);
  // yellow/server.ts logs a registered instance's `role` as a field, which shadows its own; so
  // the check is that both are present, and that instances are named after a known role.
  for (const l of lines)
    assert.match(
      l.instance ?? '',
      /^(up|yellow|brokerlist|broker|worker|sso|player|duel|chat|leaderboard|channels)-\d+/,
      JSON.stringify(l),
    );
});

test('a register can be followed by its trace from the broker to sso and on to player', async () => {
  await client.sso.register('traced_ann', 'pw-ann-12345');
  const forward = await up.waitFor(
    'forward of Sso:register',
    () => logs().find((l) => l.role === 'broker' && l.msg === 'forward' && l.method === 'Sso:register'),
    10_000,
  );
  const trace = forward.trace;
  assert.ok(trace, 'the forward line has a trace');
  const hops = await up.waitFor(
    'sso and player lines with the trace',
    () => {
      const roles = new Set(
        logs()
          .filter((l) => l.trace === trace)
          .map((l) => l.role),
      );
      return roles.has('sso') && roles.has('player') ? roles : undefined;
    },
    10_000,
  );
  assert.deepEqual([...hops].sort(), ['broker', 'player', 'sso']);
  const playerLine = logs().find((l) => l.trace === trace && l.role === 'player');
  assert.match(playerLine?.method ?? '', /createProfile/);
});

test("the broker's /metrics counts calls by method as sent", async () => {
  for (let i = 0; i < 7; i++) await client.player.getWallet();
  for (let i = 0; i < 3; i++) await client.player.getProfile();
  // a declared GameError inside an ordinary reply: counted by its code, not as ok
  for (let i = 0; i < 2; i++)
    await assert.rejects(
      client.player.spendCurrency(
        new SpendRequest({
          idempotencyKey: `broke-${i}`,
          currency: Currency.HARD,
          amount: new Int64(1e9),
          reason: 'x',
        }),
      ),
      (e: { code?: number }) => e.code === ErrorCode.INSUFFICIENT_FUNDS,
    );
  // noon up is one plaintext process (docs/security.md): its operator speaks plaintext too
  const r = await runNoon([
    'yellow',
    'instances',
    'broker',
    '--json',
    '--internal-plaintext',
    '--yellow',
    String(ready.yellow),
  ]);
  assert.equal(r.code, 0, r.stderr);
  const url = (JSON.parse(r.stdout) as Array<{ endpoints: { metrics: string } }>)[0]?.endpoints.metrics;
  assert.ok(url);
  const samples = parseProm(await (await fetch(url)).text());
  assert.equal(sum(samples, 'noon_calls_total', { method: 'Player:getWallet' }), 7);
  assert.equal(sum(samples, 'noon_calls_total', { method: 'Player:getProfile' }), 3);
  assert.equal(sum(samples, 'noon_calls_total', { method: 'Sso:register' }), 1);
  assert.equal(sum(samples, 'noon_calls_total', { method: 'Player:getWallet', outcome: 'ok' }), 7);
  assert.equal(sum(samples, 'noon_calls_total', { method: 'Player:spendCurrency', outcome: 'INSUFFICIENT_FUNDS' }), 2);
  assert.equal(sum(samples, 'noon_calls_total', { method: 'Player:spendCurrency', outcome: 'ok' }), 0);
});

test('an operator command that picked up the keys of its data directory says so when a plaintext Yellow stays silent', async () => {
  const elsewhere = tempDir('noon-operator-keys-');
  try {
    assert.equal((await runNoon(['keys', 'generate', '--data-dir', elsewhere.dir])).code, 0);
    const r = await runNoon(['yellow', 'instances', '--data-dir', elsewhere.dir, '--yellow', String(ready.yellow)]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no Yellow answered/);
    assert.ok(r.stderr.includes(`used the CURVE keys in ${elsewhere.dir}/keys`), r.stderr);
    assert.match(r.stderr, /--internal-plaintext/);
  } finally {
    elsewhere.remove();
  }
});
