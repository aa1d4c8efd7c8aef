/**
 * The TLS pieces in one process, over real sockets: the certificate loader (a bad pair is a
 * ConfigError naming the option; a failed reload keeps the pair), the host-name check of the SDK
 * against a certificate that does not name 127.0.0.1 (TLS, wss and the HTTPS BrokerList), and
 * the TLS handshake deadline of the broker's listener.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { connect as netConnect, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fetchBrokers } from '../../client/brokerlist';
import { ClientError } from '../../client/errors';
import { connectTls, connectWs, fetchWithCa } from '../../client/transports';
import { BrokerListServer } from '../../edge/brokerlist/server';
import { listenTcp, type TcpHandlers } from '../../edge/tcp';
import { readTlsPair, TlsCredentials } from '../../edge/tls';
import { listenWs } from '../../edge/ws';
import { ConfigError, loadConfig } from '../../shared/config';
import { silentLogger } from '../../shared/log';
import { Directory } from '../../yellow/directory';
import { makeTestCa } from '../support/tls-ca';
import { within } from '../support/wait';

const logger = silentLogger();
const pki = makeTestCa('edge');
const good = pki.issue('edge-good');
const other = pki.issue('edge-other');
const elsewhere = pki.issue('edge-elsewhere', 'DNS:elsewhere.example');
const servers: Server[] = [];
const noHandlers: TcpHandlers = { open: () => ({ message: () => undefined, closed: () => undefined }) };
const handlers = { message: () => undefined, close: () => undefined };

after(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  pki.remove();
});

test('TLS options: both or neither, and plaintext off needs TLS', () => {
  assert.throws(() => loadConfig({ tlsCert: good.certPath }, {}), /--tls-key \/ NOON_TLS_KEY: TLS needs both/);
  assert.throws(() => loadConfig({}, { NOON_TLS_KEY: good.keyPath }), /--tls-cert \/ NOON_TLS_CERT: TLS needs both/);
  assert.throws(() => loadConfig({ plaintext: 'false' }, {}), /--plaintext \/ NOON_PLAINTEXT/);
  assert.throws(() => loadConfig({ plaintext: 'maybe' }, {}), /NOON_PLAINTEXT: expected true\/false/);
  const cfg = loadConfig({}, { NOON_TLS_CERT: good.certPath, NOON_TLS_KEY: good.keyPath, NOON_PLAINTEXT: 'false' });
  assert.equal(cfg.plaintext, false);
  assert.deepEqual([cfg.brokerTlsPort, cfg.brokerWssPort, cfg.brokerlistHttpsPort], [7810, 7811, 7781]);
});

test('readTlsPair: a key of another certificate, or no PEM, is a ConfigError naming the option', () => {
  assert.equal(readTlsPair(good.certPath, good.keyPath).fingerprint256, good.fingerprint256);
  const mismatch = (): unknown => readTlsPair(good.certPath, other.keyPath);
  assert.throws(mismatch, ConfigError);
  assert.throws(mismatch, /--tls-key \/ NOON_TLS_KEY: the key in .* does not belong to the certificate/);
  assert.throws(
    () => readTlsPair(good.keyPath, good.keyPath),
    /--tls-cert \/ NOON_TLS_CERT: .* is not a PEM certificate/,
  );
  assert.throws(
    () => readTlsPair(good.certPath, good.certPath),
    /--tls-key \/ NOON_TLS_KEY: .* is not a PEM private key/,
  );
});

describe('the SDK checks the host name', () => {
  let tls = '';
  let wss = '';
  let https = '';
  let brokerlist: BrokerListServer;

  before(async () => {
    const creds = new TlsCredentials(elsewhere.certPath, elsewhere.keyPath, logger);
    const common = { host: '127.0.0.1', port: 0, maxFrame: 1024, logger, handlers: noHandlers, tls: creds };
    const t = await listenTcp(common);
    const w = await listenWs({ ...common, headersTimeoutMs: 5000 });
    servers.push(t.server, w.server);
    tls = t.endpoint;
    wss = w.endpoint;
    brokerlist = new BrokerListServer({
      directory: Directory.fromRecords([]),
      host: '127.0.0.1',
      port: 0,
      plaintext: false,
      httpsPort: 0,
      tls: creds,
      logger,
      version: 'test',
    });
    https = await brokerlist.start();
  });
  after(() => brokerlist.stop());

  test('a certificate from the right CA for another name is refused over TLS, wss and HTTPS', async () => {
    assert.match(https, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(brokerlist.endpoints, { https });
    for (const attempt of [
      () => connectTls(tls, handlers, { ca: pki.pem }),
      () => connectWs(wss, handlers, { ca: pki.pem }),
      () => fetchBrokers(https, { fetch: fetchWithCa(pki.pem) }),
    ]) {
      await assert.rejects(attempt(), (err: unknown) => {
        assert.ok(err instanceof ClientError, String(err));
        assert.match(err.message, /certificate not accepted \(ERR_TLS_CERT_ALTNAME_INVALID/);
        return true;
      });
    }
  });
});

test('a client that never finishes its TLS handshake is dropped at the deadline (TLS, wss, HTTPS)', async () => {
  const creds = new TlsCredentials(good.certPath, good.keyPath, logger);
  let opened = 0;
  const counting: TcpHandlers = { open: () => (opened++, { message: () => undefined, closed: () => undefined }) };
  const common = { host: '127.0.0.1', port: 0, maxFrame: 1024, logger, handlers: counting, tls: creds };
  const t = await listenTcp({ ...common, handshakeTimeoutMs: 200 });
  const w = await listenWs({ ...common, headersTimeoutMs: 200 });
  servers.push(t.server, w.server);
  const list = new BrokerListServer({
    directory: Directory.fromRecords([]),
    host: '127.0.0.1',
    port: 0,
    plaintext: false,
    httpsPort: 0,
    tls: creds,
    headersTimeoutMs: 200,
    logger,
    version: 'test',
  });
  const https = await list.start();
  try {
    for (const endpoint of [t.endpoint, w.endpoint, https]) {
      const [host, port] = endpoint.replace(/^[a-z]+:\/\//, '').split(':') as [string, string];
      const started = Date.now();
      const socket = netConnect({ host, port: Number(port) });
      socket.on('error', () => undefined);
      try {
        await within(
          new Promise<void>((resolve) => socket.once('close', () => resolve())),
          5000,
          `${endpoint} closes the silent socket`,
        );
        assert.ok(Date.now() - started >= 150, `${endpoint}: not before the deadline`);
      } finally {
        socket.destroy();
      }
    }
    assert.equal(opened, 0, 'the broker never saw them');
  } finally {
    await list.stop();
  }
});

test('TlsCredentials.reload: a half-replaced pair is refused and the current one stays', () => {
  const live = { cert: join(pki.dir, 'reload.pem'), key: join(pki.dir, 'reload.key') };
  copyFileSync(good.certPath, live.cert);
  copyFileSync(good.keyPath, live.key);
  const creds = new TlsCredentials(live.cert, live.key, logger);
  copyFileSync(other.keyPath, live.key); // the key is new, the certificate not yet
  const failed = creds.reload();
  assert.equal(failed.ok, false);
  assert.match(failed.ok ? '' : failed.error, /NOON_TLS_KEY: the key in .* does not belong/);
  assert.equal(creds.pair.fingerprint256, good.fingerprint256);
  copyFileSync(other.certPath, live.cert);
  const done = creds.reload();
  assert.equal(done.ok, true);
  assert.equal(creds.pair.fingerprint256, other.fingerprint256);
});
