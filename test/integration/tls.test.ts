/**
 * TLS on the client edge, with real `noon` processes and the tests' own CA (test/support/tls-ca.ts):
 * the broker's framed-Thrift TLS and wss listeners and the BrokerList over HTTPS, the SDK and
 * `noon health` / `noon loadtest` verifying against that CA, a wrong CA refused with a
 * certificate error, plaintext turned off (its ports refuse connections), and a SIGHUP that swaps
 * the certificate for new connections while an open one keeps working.
 */
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { NoonClient, type NoonClientOptions } from '../../client/client';
import { fetchBrokers } from '../../client/brokerlist';
import { ClientError } from '../../client/errors';
import { fetchWithCa } from '../../client/transports';
import type { ChatMessage } from '../../shared/protocol';
import { cleanEnv, clusterFlags, NoonProc, runNoon, tempDir } from '../support/cli-proc';
import { makeTestCa, type ServerCert } from '../support/tls-ca';
import { pgUrlFor } from '../support/services';
import { createTestDatabase, dropTestDatabase } from '../support/cluster-data';
import { nextEvent, until } from '../support/wait';

const pki = makeTestCa('noon');
const wrongCa = makeTestCa('other', pki.dir);
const certA = pki.issue('server-a');
const certB = pki.issue('server-b');
const clients: NoonClient[] = [];
const procs: NoonProc[] = [];
const dirs: Array<{ remove(): void }> = [];

after(async () => {
  for (const c of clients) c.close();
  for (const p of procs) await p.stop('SIGKILL');
  for (const d of dirs) d.remove();
  pki.remove();
});

/** TLS ports 0 too; the cluster's ready line says where everything listens. */
const TLS_PORTS = ['--broker-tls-port', '0', '--broker-wss-port', '0', '--brokerlist-https-port', '0'];

interface Up {
  proc: NoonProc;
  ready: Record<string, unknown>;
  broker: { tcp: string; ws: string; tls: string; wss: string };
  brokerlist: string;
  https: string;
}

async function startUp(extra: string[], cert: ServerCert): Promise<Up> {
  const data = tempDir('noon-tls-up-');
  dirs.push(data);
  const proc = new NoonProc([
    'up',
    ...clusterFlags(data.dir),
    ...TLS_PORTS,
    '--tls-cert',
    cert.certPath,
    '--tls-key',
    cert.keyPath,
    ...extra,
  ]);
  procs.push(proc);
  const ready = await proc.waitFor('ready line', () => proc.jsonLine({ ready: 'up' }), 90_000);
  const broker = ready.broker as Up['broker'];
  return { proc, ready, broker, brokerlist: String(ready.brokerlist), https: String(ready.brokerlistHttps) };
}

async function client(url: string, opts: NoonClientOptions): Promise<NoonClient> {
  const c = await NoonClient.viaBrokerList(url, { reconnect: false, keepAliveMs: 0, ...opts });
  clients.push(c);
  return c;
}

let users = 0;
/**
 * Registers a new user (unless the client is logged in already), joins a room, says `text` there
 * and waits for the chatMessage push.
 */
async function registerAndPush(c: NoonClient, text = 'hello over tls'): Promise<void> {
  if (c.session === undefined) {
    const name = `tls_${process.pid}_${++users}`;
    const s = await c.sso.register(name, 'pw-tls-12345');
    assert.equal(s.username, name);
  }
  const room = `room-${c.session?.username ?? ''}`;
  const pushed = nextEvent<[ChatMessage]>(
    (fn) => c.on('chatMessage', fn),
    (m) => m.text === text,
    'chatMessage push',
    10_000,
  );
  await c.chat.join(room);
  await c.chat.say(room, text);
  await pushed;
}

/** The SHA-256 fingerprint of the certificate a new TLS connection to host:port is shown. */
function fingerprintAt(hostPort: string): Promise<string> {
  const m = /^(.*):(\d+)$/.exec(hostPort.replace(/^[a-z]+:\/\//, '')) as RegExpExecArray;
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: m[1], port: Number(m[2]), ca: pki.pem }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.once('error', reject);
  });
}

/** Resolves with the error code of a plain TCP connect (ECONNREFUSED), or 'connected'. */
function plainConnect(hostPort: string): Promise<string> {
  const m = /^(.*):(\d+)$/.exec(hostPort) as RegExpExecArray;
  return new Promise((resolve) => {
    const s = netConnect({ host: m[1], port: Number(m[2]) }, () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** A port nothing listens on now (the OS gave it, then it was closed). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

function rejectsWithCertificateError(p: Promise<unknown>, code: string): Promise<void> {
  return p.then(
    () => assert.fail('expected a certificate error'),
    (err: unknown) => {
      assert.ok(err instanceof ClientError, String(err));
      assert.equal(err.code, code);
      assert.match(
        err.message,
        /certificate not accepted \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)/,
      );
      assert.match(err.message, /`ca` option/);
      assert.equal(err.retryable, false, 'a refused certificate stays refused');
    },
  );
}

test('a bad TLS configuration stops the process at start, naming the option', async () => {
  const env = cleanEnv();
  // its own data directory: a start makes role keys there before it reads the TLS options
  const start = [
    'start',
    'broker',
    '--data-dir',
    join(pki.dir, 'data'),
    '--broker-port',
    '0',
    '--broker-ws-port',
    '0',
    '--broker-tls-port',
    '0',
  ];
  const mismatched = await runNoon([...start, '--tls-cert', certA.certPath, '--tls-key', certB.keyPath], env);
  assert.equal(mismatched.code, 2);
  assert.match(mismatched.stderr, /--tls-key \/ NOON_TLS_KEY: the key in .* does not belong to the certificate/);
  const missing = await runNoon([...start, '--tls-cert', join(pki.dir, 'nope.pem'), '--tls-key', certA.keyPath], env);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--tls-cert \/ NOON_TLS_CERT: cannot read the certificate file/);
  const notPem = await runNoon([...start, '--tls-cert', certA.keyPath, '--tls-key', certA.keyPath], env);
  assert.equal(notPem.code, 2);
  assert.match(notPem.stderr, /NOON_TLS_CERT: .* is not a PEM certificate/);
  const half = await runNoon([...start, '--tls-cert', certA.certPath], env);
  assert.equal(half.code, 2);
  assert.match(half.stderr, /--tls-key \/ NOON_TLS_KEY: TLS needs both/);
  const nothing = await runNoon([...start], cleanEnv({ NOON_PLAINTEXT: 'false' }));
  assert.equal(nothing.code, 2);
  assert.match(nothing.stderr, /--plaintext \/ NOON_PLAINTEXT: false turns off every plaintext listener/);
});

describe('TLS and plaintext side by side', () => {
  let up: Up;
  before(async () => {
    up = await startUp([], certA);
  });

  test('BrokerList: the old brokerList map is unchanged, brokers lists tls and wss; HTTP and HTTPS answer the same', async () => {
    const res = await fetch(`${up.brokerlist}/brokers`);
    const body = (await res.json()) as { brokerList: Record<string, number>; brokers: Array<Record<string, unknown>> };
    assert.deepEqual(Object.keys(body.brokerList), [up.broker.tcp]);
    assert.equal(body.brokers.length, 1);
    assert.equal(body.brokers[0]?.tcp, up.broker.tcp);
    assert.equal(body.brokers[0]?.ws, up.broker.ws);
    assert.equal(body.brokers[0]?.tls, up.broker.tls);
    assert.equal(body.brokers[0]?.wss, up.broker.wss);
    assert.match(up.broker.tls, /^127\.0\.0\.1:\d+$/);
    assert.match(up.broker.wss, /^wss:\/\/127\.0\.0\.1:\d+$/);
    const secure = await fetchBrokers(`${up.https}/brokers`, { fetch: fetchWithCa(pki.pem) });
    assert.deepEqual(
      secure.map((b) => [b.tcp, b.ws, b.tls, b.wss]),
      [[up.broker.tcp, up.broker.ws, up.broker.tls, up.broker.wss]],
    );
  });

  for (const transport of ['tls', 'wss'] as const) {
    test(`the SDK registers and gets a push over ${transport}, through the HTTPS BrokerList, with the test CA`, async () => {
      const c = await client(up.https, { transport, ca: pki.pem });
      assert.equal(c.endpoint, up.broker[transport]);
      await registerAndPush(c);
    });
  }

  test('NoonClient.connect({ tls }) and ({ wss }) with the CA', async () => {
    for (const target of [{ tls: up.broker.tls }, { wss: up.broker.wss }]) {
      const c = await NoonClient.connect(target, { ca: pki.pem, reconnect: false, keepAliveMs: 0 });
      clients.push(c);
      await registerAndPush(c, `hello ${Object.keys(target)[0]}`);
    }
  });

  test('a wrong CA, or none (the system store), fails with a certificate error', async () => {
    for (const ca of [wrongCa.pem, undefined]) {
      const opts = { reconnect: false, keepAliveMs: 0, ...(ca ? { ca } : {}) };
      await rejectsWithCertificateError(NoonClient.connect({ tls: up.broker.tls }, opts), 'CONNECT');
      await rejectsWithCertificateError(NoonClient.connect({ wss: up.broker.wss }, opts), 'CONNECT');
      await rejectsWithCertificateError(NoonClient.viaBrokerList(up.https, opts), 'BROKERLIST');
    }
    // the list over plain HTTP, then a broker whose certificate the client does not trust
    await assert.rejects(
      NoonClient.viaBrokerList(up.brokerlist, { transport: 'tls', ca: wrongCa.pem, reconnect: false, keepAliveMs: 0 }),
      (err: Error) => /no broker accepted a connection: .*certificate not accepted/.test(err.message),
    );
    const refused = await NoonClient.connect({ tls: up.broker.tls }, { ca: wrongCa.pem, reconnect: false }).catch(
      (e: unknown) => e as ClientError,
    );
    assert.equal((refused as ClientError).retryable, false);
  });

  test('noon health --ca verifies the BrokerList and the broker over TLS; a wrong CA names the certificate', async () => {
    const ok = await runNoon(['health', '--url', up.https, '--ca', pki.certPath, '--json']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const report = JSON.parse(ok.stdout) as { ok: boolean; steps: Array<{ step: string; detail?: string }> };
    assert.equal(report.ok, true);
    assert.equal(report.steps.find((s) => s.step === 'connect')?.detail, up.broker.tls);
    const wss = await runNoon(['health', '--url', up.https, '--ca', pki.certPath, '--transport', 'wss']);
    assert.equal(wss.code, 0, wss.stdout + wss.stderr);
    const wrong = await runNoon(['health', '--url', up.https, '--ca', wrongCa.certPath, '--step-timeout', '5000']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stdout, /step "brokerlist" failed/);
    assert.match(wrong.stdout, /certificate not accepted/);
    const brokerOnly = await runNoon([
      'health',
      '--url',
      up.brokerlist,
      '--transport',
      'tls',
      '--ca',
      wrongCa.certPath,
      '--step-timeout',
      '5000',
    ]);
    assert.equal(brokerOnly.code, 1);
    assert.match(brokerOnly.stdout, /step "connect" failed/);
    assert.match(brokerOnly.stdout, /certificate not accepted/);
  });

  test('noon loadtest --transport tls --ca runs its players over TLS; a wrong CA stops it', async () => {
    const scenario = join(pki.dir, 'tls-scenario.json');
    writeFileSync(
      scenario,
      JSON.stringify({
        name: 'tls',
        players: 3,
        rampUpSeconds: 0,
        durationSeconds: 2,
        thinkTimeMs: { min: 20, max: 50 },
        mix: { getProfile: 1, chatSay: 1 },
        accounts: { mode: 'register', prefix: 'lttls', password: 'loadtest-pw-123' },
        chat: { rooms: 1 },
        duel: { stake: 0, matchWaitMs: 500 },
        leaderboard: { board: 'duels', count: 10 },
        callTimeoutMs: 5000,
      }),
    );
    const args = ['loadtest', '--brokerlist', up.https, '--yellow', String(up.ready.yellow), '--scenario', scenario];
    const r = await runNoon([...args, '--transport', 'tls', '--ca', pki.certPath, '--json'], undefined, 90_000);
    assert.equal(r.code, 0, r.stdout.slice(-2000) + r.stderr.slice(-2000));
    const report = JSON.parse(r.stdout) as {
      players: { started: number; failed: number };
      connectFailures: { count: number };
      gameCalls: { calls: number };
      accounting: { unaccounted: number | null };
    };
    assert.equal(report.players.started, 3);
    assert.equal(report.players.failed, 0);
    assert.equal(report.connectFailures.count, 0);
    assert.ok(report.gameCalls.calls > 0);
    assert.equal(report.accounting.unaccounted, 0);
    const wrong = await runNoon([...args, '--transport', 'tls', '--ca', wrongCa.certPath], undefined, 60_000);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /certificate not accepted/);
  });
});

describe('plaintext off, and a certificate reloaded on SIGHUP', () => {
  let up: Up;
  const plain = { tcp: 0, ws: 0, http: 0 };
  const live: ServerCert = {
    certPath: join(pki.dir, 'live.pem'),
    keyPath: join(pki.dir, 'live.key'),
    fingerprint256: certA.fingerprint256,
  };
  before(async () => {
    copyFileSync(certA.certPath, live.certPath);
    copyFileSync(certA.keyPath, live.keyPath);
    plain.tcp = await freePort();
    plain.ws = await freePort();
    plain.http = await freePort();
    up = await startUp(
      [
        '--plaintext',
        'false',
        '--broker-port',
        String(plain.tcp),
        '--broker-ws-port',
        String(plain.ws),
        '--brokerlist-port',
        String(plain.http),
      ],
      live,
    );
  });

  test('the plaintext ports refuse connections; BrokerList over HTTPS lists only the TLS endpoints', async () => {
    for (const port of [plain.tcp, plain.ws, plain.http])
      assert.equal(await plainConnect(`127.0.0.1:${port}`), 'ECONNREFUSED', `port ${port}`);
    assert.equal(up.broker.tcp, '');
    assert.equal(up.broker.ws, '');
    assert.equal(up.brokerlist, up.https);
    const res = await fetchWithCa(pki.pem)(`${up.https}/brokers`, {
      signal: AbortSignal.timeout(5000),
      headers: {},
    });
    const body = (await res.json()) as { brokerList: Record<string, number>; brokers: Array<Record<string, unknown>> };
    assert.deepEqual(body.brokerList, {});
    assert.deepEqual(
      body.brokers.map((b) => [b.tcp, b.ws, b.tls, b.wss]),
      [[undefined, undefined, up.broker.tls, up.broker.wss]],
    );
    // an SDK that asks for plain tcp is told what the cluster offers instead
    await assert.rejects(
      NoonClient.viaBrokerList(up.https, { ca: pki.pem, reconnect: false, keepAliveMs: 0 }),
      /lists no broker with a tcp endpoint \(it offers tls, wss: set the transport option\)/,
    );
    const c = await client(up.https, { transport: 'tls', ca: pki.pem });
    await registerAndPush(c);
  });

  test('SIGHUP: new connections get the new certificate, open ones keep working; a bad file changes nothing', async () => {
    const overTls = await client(up.https, { transport: 'tls', ca: pki.pem });
    const overWss = await client(up.https, { transport: 'wss', ca: pki.pem });
    await registerAndPush(overTls, 'before reload (tls)');
    await registerAndPush(overWss, 'before reload (wss)');
    const drops: string[] = [];
    for (const c of [overTls, overWss]) c.on('disconnected', (d) => drops.push(d.reason));
    for (const at of [up.broker.tls, up.broker.wss, up.https])
      assert.equal(await fingerprintAt(at), certA.fingerprint256);

    copyFileSync(certB.certPath, live.certPath);
    copyFileSync(certB.keyPath, live.keyPath);
    const reloaded = (): number => up.proc.stderr.filter((l) => l.includes('"msg":"TLS certificate reloaded"')).length;
    process.kill(up.proc.pid, 'SIGHUP');
    // the broker and the BrokerList each reload (one process: `noon up`)
    await up.proc.waitFor('two reload lines', () => (reloaded() >= 2 ? true : undefined), 10_000);
    for (const at of [up.broker.tls, up.broker.wss, up.https])
      assert.equal(await fingerprintAt(at), certB.fingerprint256, at);
    // the connections opened before the reload are the same ones, and still carry calls and pushes
    assert.equal(overTls.connected, true);
    assert.equal(overWss.connected, true);
    await registerAndPush(overTls, 'after reload (tls)');
    await registerAndPush(overWss, 'after reload (wss)');
    assert.deepEqual(drops, []);

    writeFileSync(live.certPath, 'half-written\n');
    const failed = (): number => up.proc.stderr.filter((l) => l.includes('TLS reload failed')).length;
    process.kill(up.proc.pid, 'SIGHUP');
    await up.proc.waitFor('two reload failures', () => (failed() >= 2 ? true : undefined), 10_000);
    assert.match(
      up.proc.stderr.find((l) => l.includes('TLS reload failed')) ?? '',
      /NOON_TLS_CERT.*is not a PEM certificate/,
    );
    assert.equal(up.proc.alive, true);
    assert.equal(await fingerprintAt(up.broker.tls), certB.fingerprint256);
    const fresh = await client(up.https, { transport: 'tls', ca: pki.pem });
    await registerAndPush(fresh, 'after a failed reload');
  });
});

describe('noon up --processes with TLS only', () => {
  const dbName = `noon_tls_${process.pid}_${Date.now().toString(36)}`;
  const live: ServerCert = {
    certPath: join(pki.dir, 'procs.pem'),
    keyPath: join(pki.dir, 'procs.key'),
    fingerprint256: certA.fingerprint256,
  };
  let up: Up;
  before(async () => {
    copyFileSync(certA.certPath, live.certPath);
    copyFileSync(certA.keyPath, live.keyPath);
    await createTestDatabase(dbName);
    up = await startUp(['--processes', '--pg-url', pgUrlFor(dbName), '--plaintext', 'false'], live);
  });
  after(async () => {
    await up?.proc.stop('SIGINT');
    await dropTestDatabase(dbName);
  });

  test('SIGHUP to the supervisor reaches the broker and the BrokerList; a restarted broker keeps its TLS ports', async () => {
    assert.equal(await fingerprintAt(up.broker.tls), certA.fingerprint256);
    copyFileSync(certB.certPath, live.certPath);
    copyFileSync(certB.keyPath, live.keyPath);
    const reloadedBy = (): string[] =>
      up.proc.stderr
        .filter((l) => l.includes('"msg":"TLS certificate reloaded"'))
        .map((l) => String((JSON.parse(l) as { role?: string }).role));
    process.kill(up.proc.pid, 'SIGHUP');
    await up.proc.waitFor('broker and brokerlist reloads', () => (reloadedBy().length >= 2 ? true : undefined), 15_000);
    assert.deepEqual(reloadedBy().sort(), ['broker', 'brokerlist']);
    for (const at of [up.broker.tls, up.broker.wss, up.https])
      assert.equal(await fingerprintAt(at), certB.fingerprint256, at);

    const broker = (up.ready.instances as Array<{ role: string; pid: number }>).find((i) => i.role === 'broker');
    assert.ok(broker);
    process.kill(broker.pid, 'SIGKILL');
    await up.proc.waitFor('broker restarted', () => up.proc.jsonLine({ event: 'restarted', role: 'broker' }), 30_000);
    const c = await until(
      'the restarted broker listed with its old TLS endpoint',
      async () => {
        const k = await NoonClient.viaBrokerList(up.https, {
          transport: 'tls',
          ca: pki.pem,
          reconnect: false,
          keepAliveMs: 0,
        });
        if (k.endpoint === up.broker.tls) return k;
        k.close();
        return undefined;
      },
      30_000,
      100,
    );
    clients.push(c);
    await registerAndPush(c, 'after a restart');
  });
});
