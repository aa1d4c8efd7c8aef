// The CLI talking to people, through the real `node bin/noon.js`: help per command, numbers
// checked naming the flag, errors naming the port / listener / store / Yellow that failed with no
// stack unless --debug, readable log lines with --log-format pretty, and the lock that keeps a
// second process off a PGlite directory in use.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { cleanEnv, NoonProc, runNoon, tempDir } from '../support/cli-proc';

const data = tempDir('noon-cli-talk-');
const procs: NoonProc[] = [];

after(async () => {
  for (const p of procs) await p.stop('SIGTERM');
  data.remove();
});

/** A port something listens on (closed by the caller). */
async function heldPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

/** A port nothing listens on: one the system just gave and took back. */
async function closedPort(): Promise<number> {
  const { port, server } = await heldPort();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const STACK = /\n\s+at /;

test('each --help lists its own options: server config on noon start, a few on operator commands', async () => {
  const services = await runNoon(['yellow', 'services', '--help']);
  assert.equal(services.code, 0);
  for (const flag of ['--yellow', '--data-dir', '--internal-keys', '--json', '--log-format'])
    assert.match(services.stdout, new RegExp(`${flag}\\b`), `yellow services --help shows ${flag}`);
  for (const flag of ['--broker-port', '--heartbeat-ms', '--scrypt-n', '--pg-url'])
    assert.doesNotMatch(services.stdout, new RegExp(`${flag}\\b`), `yellow services --help hides ${flag}`);
  const start = await runNoon(['start', '--help']);
  assert.equal(start.code, 0);
  for (const flag of ['--broker-port', '--heartbeat-ms', '--pg-url', '--log-format'])
    assert.match(start.stdout, new RegExp(`${flag}\\b`), `start --help shows ${flag}`);
  assert.match(start.stdout, /Server config/);
  // a hidden config flag is still accepted, so one set of flags works for every command
  const r = await runNoon(['top', '--interval', 'abc', '--heartbeat-ms', '200']);
  assert.doesNotMatch(r.stderr, /Unknown argument/);
});

const badNumbers: { args: string[]; expect: RegExp }[] = [
  {
    args: ['top', '--once', '--interval', 'abc'],
    expect: /--interval expects a whole number of ms from 100 to 3600000, got "abc"/,
  },
  { args: ['top', '--interval', '50'], expect: /--interval expects .*got "50"/ },
  { args: ['loadtest', '--players', 'abc'], expect: /--players expects a whole number from 1 to 1000000, got "abc"/ },
  { args: ['loadtest', '--duration', '1.5'], expect: /--duration expects a whole number .*got "1\.5"/ },
  { args: ['loadtest', '--max-actions', '0'], expect: /--max-actions expects .*got "0"/ },
  {
    args: ['loadtest', '--source-ip-count', '300'],
    expect: /--source-ip-count expects a whole number from 1 to 254, got "300"/,
  },
  { args: ['health', '--step-timeout', 'soon'], expect: /--step-timeout expects .*got "soon"/ },
  {
    args: ['start', 'yellow', '--heartbeat-ms', 'fast'],
    expect: /--heartbeat-ms \/ NOON_HEARTBEAT_MS: expected an integer, got "fast"/,
  },
  {
    args: ['yellow', 'services', '--log-format', 'fancy'],
    expect: /--log-format \/ NOON_LOG_FORMAT: "fancy" is not one of auto, json, pretty/,
  },
];
for (const b of badNumbers)
  test(`noon ${b.args.join(' ')}: exit 2 naming the option`, async () => {
    const r = await runNoon(b.args);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, b.expect);
    assert.doesNotMatch(r.stderr, STACK);
  });

test('a port clash names the port and the listener, without a stack unless --debug', async () => {
  const { port, server } = await heldPort();
  try {
    const base = ['--data-dir', data.dir, '--internal-plaintext', '--yellow', `tcp://127.0.0.1:${await closedPort()}`];
    const list = await runNoon(['start', 'brokerlist', '--brokerlist-port', String(port), ...base]);
    assert.equal(list.code, 1, list.stderr);
    assert.match(
      list.stderr,
      new RegExp(
        `brokerlist: port ${port} is already in use: the BrokerList HTTP listener cannot bind 127\\.0\\.0\\.1:${port}`,
      ),
    );
    assert.match(list.stderr, /--brokerlist-port/);
    assert.doesNotMatch(list.stderr, STACK);
    const yellow = await runNoon(['start', 'yellow', '--yellow-port', String(port), ...base]);
    assert.equal(yellow.code, 1, yellow.stderr);
    assert.match(yellow.stderr, new RegExp(`port ${port} is already in use: the Yellow \\(ZeroMQ ROUTER\\) listener`));
    assert.doesNotMatch(yellow.stderr, STACK);
    const debug = await runNoon(['start', 'brokerlist', '--brokerlist-port', String(port), '--debug', ...base]);
    assert.equal(debug.code, 1);
    assert.match(debug.stderr, /BrokerList HTTP listener/);
    assert.match(debug.stderr, STACK);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a refused Postgres connection says Postgres with host:port', async () => {
  const port = await closedPort();
  const r = await runNoon(['migrate', '--pg-url', `postgres://postgres@127.0.0.1:${port}/test`]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`Postgres at 127\\.0\\.0\\.1:${port} \\(--pg-url / NOON_PG_URL\\) refused the connection`),
  );
  assert.doesNotMatch(r.stderr, STACK);
});

test('noon top --once with Yellow unreachable exits 1 naming its endpoint', async () => {
  const yellow = `tcp://127.0.0.1:${await closedPort()}`;
  const r = await runNoon(['top', '--once', '--interval', '100', '--yellow', yellow, '--internal-plaintext']);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, new RegExp(`cannot reach Yellow: .*${yellow.replace(/[.:/]/g, '\\$&')}`));
  assert.doesNotMatch(r.stdout, /no instances registered/);
});

test('a second process on the same PGlite directory fails at start naming the lock and the pid', async () => {
  const yellow = `tcp://127.0.0.1:${await closedPort()}`;
  const args = [
    'start',
    'sso',
    '--data-dir',
    data.dir,
    '--internal-plaintext',
    '--yellow',
    yellow,
    '--metrics-port',
    '0',
  ];
  const first = new NoonProc([...args, '--log-format', 'pretty']);
  procs.push(first);
  // the ready line stays JSON on stdout whatever the log format
  const ready = await first.ready(60_000, 'sso');
  assert.equal(ready.pid, first.pid);
  const second = await runNoon(args);
  assert.equal(second.code, 1, second.stderr);
  assert.match(
    second.stderr,
    new RegExp(`PGlite directory \\S+pglite is locked by pid ${first.pid} \\(lock file \\S+pglite\\.lock\\)`),
  );
  assert.doesNotMatch(second.stderr, STACK);
  // --log-format pretty: the first one's log lines are text, not JSON
  const lines = first.stderr.filter((l) => l.trim() !== '');
  assert.ok(lines.length > 0);
  for (const l of lines) assert.doesNotMatch(l, /^\{/, `a JSON log line with --log-format pretty: ${l}`);
  assert.ok(
    lines.some((l) => /^\d\d:\d\d:\d\d\.\d{3} (INFO|WARN) /.test(l)),
    lines.join('\n'),
  );
  // after a clean stop the directory is free again
  assert.deepEqual(await first.stop('SIGTERM'), { code: 0, signal: null });
  const again = new NoonProc(args, cleanEnv());
  procs.push(again);
  await again.ready(60_000, 'sso');
  assert.deepEqual(await again.stop('SIGTERM'), { code: 0, signal: null });
});
