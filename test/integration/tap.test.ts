/**
 * The traffic tap on a real cluster (`noon up`: Yellow, the broker, every service, with an admin
 * token): GET /tap on the broker's metrics port streams exactly the calls a filter matches, shows
 * a login's arguments with the password redacted, names a bad query's character (the endpoint and
 * `noon tap`), refuses without the admin token, and leaves no tap behind when the reader goes (the
 * hot-path flag, read as noon_taps, is back to 0). A service instance's tap sees the nested call a
 * register makes, with the broker's trace id. `noon tap --json --limit` merges it for scripts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { NoonClient } from '../../client/client';
import { parseProm, sum } from '../../cli/prom';
import { loadConfig } from '../../shared/config';
import { silentLogger } from '../../shared/log';
import { YellowClient } from '../../yellow/client';
import { cleanEnv, clusterFlags, NoonProc, runNoon, tempDir } from '../support/cli-proc';
import { until } from '../support/wait';

const TOKEN = 'tap-test-admin-token-0123456789';
const data = tempDir('noon-tap-');
let up: NoonProc;
let ready: Record<string, unknown>;
let client: NoonClient;
/** role -> its /metrics URL, from Yellow */
const metrics = new Map<string, string>();

before(async () => {
  up = new NoonProc(['up', ...clusterFlags(data.dir)], cleanEnv({ NOON_ADMIN_TOKEN: TOKEN }));
  ready = await up.waitFor('ready line', () => up.jsonLine({ ready: 'up' }), 120_000);
  const y = YellowClient.fromConfig(loadConfig({ yellow: [String(ready.yellow)] }, {}), silentLogger());
  try {
    for (const r of await y.query()) if (r.endpoints.metrics) metrics.set(r.role, r.endpoints.metrics);
  } finally {
    await y.stop();
  }
  client = await NoonClient.viaBrokerList(String(ready.brokerlist), { reconnect: false, keepAliveMs: 0 });
  await client.sso.register('tap_ann', 'tap-ann-password-1');
});

after(async () => {
  client?.close();
  await up?.stop('SIGINT');
  data.remove();
});

function tapUrl(role: string, query: string): string {
  const url = new URL('/tap', metrics.get(role));
  url.searchParams.set('q', query);
  return url.toString();
}

interface Line {
  type: string;
  call?: Record<string, unknown>;
  [k: string]: unknown;
}

/** A tap read line by line: `lines` fills as they arrive; `close()` goes away like a client would. */
async function openTap(
  role: string,
  query: string,
): Promise<{ lines: Line[]; calls(): Record<string, unknown>[]; close(): void }> {
  const abort = new AbortController();
  const res = await fetch(tapUrl(role, query), { headers: { authorization: `Bearer ${TOKEN}` }, signal: abort.signal });
  assert.equal(res.status, 200, await (res.status === 200 ? '' : res.text()));
  assert.match(res.headers.get('content-type') ?? '', /application\/x-ndjson/);
  const lines: Line[] = [];
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let rest = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        rest += decoder.decode(value, { stream: true });
        for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n')) {
          lines.push(JSON.parse(rest.slice(0, nl)) as Line);
          rest = rest.slice(nl + 1);
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  await until('the attached line', () => lines.find((l) => l.type === 'attached'));
  return {
    lines,
    calls: () => lines.filter((l) => l.type === 'call').map((l) => l.call as Record<string, unknown>),
    close: () => abort.abort(),
  };
}

async function tapsAttached(role: string): Promise<number> {
  return sum(parseProm(await (await fetch(metrics.get(role) as string)).text()), 'noon_taps');
}

test('a filtered tap gets exactly the matching calls, in order, and nothing else', async () => {
  const tap = await openTap('broker', "SELECT method, user, outcome FROM calls WHERE service = 'Player'");
  const N = 7;
  for (let i = 0; i < N; i++) {
    await client.player.getProfile();
    await client.sso.ping();
    await client.sso.ping();
  }
  await client.player.getWallet(); // the last matching call: everything before it has been seen
  const calls = await until('the getWallet record', () => {
    const c = tap.calls();
    return c.at(-1)?.method === 'Player:getWallet' ? c : undefined;
  });
  tap.close();
  const user = client.session?.userId;
  assert.ok(user);
  assert.deepEqual(calls, [
    ...Array.from({ length: N }, () => ({ method: 'Player:getProfile', user, outcome: 'ok' })),
    { method: 'Player:getWallet', user, outcome: 'ok' },
  ]);
});

test("a login's arguments are shown with the password redacted", async () => {
  const tap = await openTap('broker', "SELECT method, username, args FROM calls WHERE method = 'Sso:login'");
  await client.sso.login('tap_ann', 'tap-ann-password-1');
  const [call] = await until('the login record', () => (tap.calls().length > 0 ? tap.calls() : undefined));
  tap.close();
  assert.deepEqual(call, {
    method: 'Sso:login',
    username: 'tap_ann',
    args: { username: 'tap_ann', password: '[redacted]', clientProtocol: 1 },
  });
  assert.ok(!JSON.stringify(tap.lines).includes('tap-ann-password-1'));
});

test('a bad query is refused with the character it is about', async () => {
  const res = await fetch(tapUrl('broker', 'SELECT method FROM calls WHERE latency_ms > fast'), {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(res.status, 400);
  const body = (await res.json()) as { error: string; position: number; pointed: string };
  assert.equal(body.position, 44);
  assert.match(body.error, /at character 45/);
  assert.equal(body.pointed.split('\n')[1]?.indexOf('^'), 44);
});

test('the endpoint refuses without the admin token, or with another one', async () => {
  const none = await fetch(tapUrl('broker', ''));
  assert.equal(none.status, 401);
  assert.match(((await none.json()) as { error: string }).error, /admin token is required/);
  const wrong = await fetch(tapUrl('broker', ''), { headers: { authorization: 'Bearer not-the-admin-token-at-all' } });
  assert.equal(wrong.status, 403);
  assert.equal(await tapsAttached('broker'), 0);
});

test('a reader that goes away leaves no tap: the hot-path flag is back off', async () => {
  assert.equal(await tapsAttached('broker'), 0);
  const a = await openTap('broker', '');
  const b = await openTap('broker', "method = 'Sso:ping'");
  assert.equal(await tapsAttached('broker'), 2);
  a.close();
  await until('one tap left', async () => (await tapsAttached('broker')) === 1);
  b.close();
  await until('no tap left', async () => (await tapsAttached('broker')) === 0);
  await client.sso.ping(); // a call with no tap attached is served as before
});

test("a service's tap sees the nested call a register makes, with the broker's trace id", async () => {
  const player = await openTap('player', "SELECT method, caller, trace_id FROM calls WHERE caller = 'service'");
  const broker = await openTap('broker', "SELECT method, trace_id FROM calls WHERE method = 'Sso:register'");
  const other = await NoonClient.viaBrokerList(String(ready.brokerlist), { reconnect: false, keepAliveMs: 0 });
  try {
    await other.sso.register('tap_bob', 'tap-bob-password-1');
  } finally {
    other.close();
  }
  const [register] = await until('the register record', () => (broker.calls().length ? broker.calls() : undefined));
  const nested = await until('the nested record', () => player.calls().find((c) => c.trace_id === register?.trace_id));
  player.close();
  broker.close();
  assert.equal(nested.caller, 'service');
  assert.match(String(nested.method), /^Player:/);
});

test('noon tap: a bad query gets a caret under its character and exit 2', async () => {
  const out = await runNoon(
    ['tap', 'SELECT methd FROM calls', '--yellow', String(ready.yellow)],
    cleanEnv({ NOON_ADMIN_TOKEN: TOKEN }),
  );
  assert.equal(out.code, 2, out.stderr);
  const lines = out.stderr.split('\n');
  const query = lines.findIndex((l) => l === 'SELECT methd FROM calls');
  assert.ok(query >= 0, out.stderr);
  assert.equal(lines[query + 1]?.indexOf('^'), 7);
  assert.match(lines[query + 1] ?? '', /unknown field 'methd'/);
});

test('noon tap --json merges the matching calls for a script', async () => {
  const tap = new NoonProc(
    [
      'tap',
      "SELECT method, outcome FROM calls WHERE method = 'Player:getWallet'",
      '--json',
      '--limit',
      '3',
      '--yellow',
      String(ready.yellow),
    ],
    cleanEnv({ NOON_ADMIN_TOKEN: TOKEN }),
  );
  await tap.waitFor('tapping line', () => tap.stderr.find((l) => l.startsWith('noon tap: tapping broker-')), 30_000);
  for (let i = 0; i < 3; i++) {
    await client.sso.ping();
    await client.player.getWallet();
  }
  const exit = await tap.exited;
  assert.equal(exit.code, 0, tap.stderr.join('\n'));
  assert.deepEqual(
    tap.stdout.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as unknown),
    Array.from({ length: 3 }, () => ({ method: 'Player:getWallet', outcome: 'ok' })),
  );
});
