/**
 * CORS on the BrokerList, so a game in a browser page can read it: a configured Origin gets
 * `Access-Control-Allow-Origin: <origin>` and `Vary: Origin` on GET, and its preflight a 204
 * allowing GET/HEAD with a max-age; any other origin gets no CORS header; "*" allows every
 * origin; without the option nothing changes. Also the option itself (`corsOrigins` /
 * `--cors-origins` / `NOON_CORS_ORIGINS`) and the brokerlist process honouring it.
 * (The browser itself reading the list cross-origin is test/integration/browser.test.ts.)
 */
import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { BrokerListServer, type BrokerListBody } from '../../edge/brokerlist/server';
import { ConfigError, loadConfig } from '../../shared/config';
import { silentLogger } from '../../shared/log';
import { Directory } from '../../yellow/directory';
import { plainInstance } from '../unit/instance-records';
import { kill, killAll, spawnReady } from '../support/yellow-harness';
import { within } from '../support/wait';

const GAME = 'http://game.example:8080';
const logger = silentLogger();

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A raw HTTP request (fetch would not let a test choose the Origin header freely). */
function send(url: string, method: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within 5000 ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** The Access-Control-* headers of an answer (none = the browser keeps the answer from the page). */
function corsHeaders(a: Answer): Record<string, unknown> {
  return Object.fromEntries(Object.entries(a.headers).filter(([k]) => k.startsWith('access-control-')));
}

function directory(): Directory {
  const broker = plainInstance('broker-1', 'broker');
  broker.endpoints = { tcp: '127.0.0.1:7800', ws: 'ws://127.0.0.1:7801' };
  broker.load = { ...broker.load, score: 0.25 };
  return Directory.fromRecords([broker]);
}

async function serve(corsOrigins?: string[]): Promise<{ url: string; stop(): Promise<void> }> {
  const server = new BrokerListServer({
    directory: directory(),
    host: '127.0.0.1',
    port: 0,
    logger,
    version: '0.1.0',
    ...(corsOrigins && { corsOrigins }),
  });
  return { url: await server.start(), stop: () => server.stop() };
}

const PREFLIGHT = { origin: GAME, 'access-control-request-method': 'GET' };

describe('BrokerList CORS with one configured origin', () => {
  let srv: { url: string; stop(): Promise<void> };
  before(async () => {
    srv = await serve([GAME, 'https://other.example']);
  });
  after(() => srv.stop());

  test('GET from the origin: the list, Access-Control-Allow-Origin: <origin>, Vary: Origin', async () => {
    for (const path of ['/brokers', '/']) {
      const a = await send(`${srv.url}${path}`, 'GET', { origin: GAME });
      assert.equal(a.status, 200);
      assert.deepEqual(corsHeaders(a), { 'access-control-allow-origin': GAME });
      assert.equal(a.headers.vary, 'Origin');
      const body = JSON.parse(a.body) as BrokerListBody;
      assert.deepEqual(body.brokerList, { '127.0.0.1:7800': 0.25 });
      assert.equal(body.brokers[0]?.ws, 'ws://127.0.0.1:7801');
    }
    const head = await send(`${srv.url}/brokers`, 'HEAD', { origin: 'https://other.example' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['access-control-allow-origin'], 'https://other.example');
  });

  test('preflight from the origin: 204, GET and HEAD, the allowed headers, a max-age, no body', async () => {
    const a = await send(`${srv.url}/brokers`, 'OPTIONS', {
      ...PREFLIGHT,
      'access-control-request-headers': 'cache-control',
    });
    assert.equal(a.status, 204);
    assert.equal(a.body, '');
    assert.deepEqual(corsHeaders(a), {
      'access-control-allow-origin': GAME,
      'access-control-allow-methods': 'GET, HEAD',
      'access-control-allow-headers': 'Accept, Accept-Language, Content-Language, Content-Type, Cache-Control, Pragma',
      'access-control-max-age': '600',
    });
    assert.equal(a.headers.vary, 'Origin');
  });

  test('another origin, or none: no CORS header on GET, and its preflight is refused (405)', async () => {
    const cases: Record<string, string>[] = [
      { origin: 'http://evil.example' },
      { origin: 'http://game.example:8081' },
      {},
    ];
    for (const headers of cases) {
      const a = await send(`${srv.url}/brokers`, 'GET', headers);
      assert.equal(a.status, 200, 'the list itself is public');
      assert.deepEqual(corsHeaders(a), {}, JSON.stringify(headers));
    }
    const pre = await send(`${srv.url}/brokers`, 'OPTIONS', { ...PREFLIGHT, origin: 'http://evil.example' });
    assert.equal(pre.status, 405);
    assert.equal(pre.headers.allow, 'GET, HEAD');
    assert.deepEqual(corsHeaders(pre), {});
  });

  test('OPTIONS that is not a preflight, POST, and unknown paths answer as before, readable by the origin', async () => {
    const plain = await send(`${srv.url}/brokers`, 'OPTIONS', { origin: GAME });
    assert.equal(plain.status, 405, 'no Access-Control-Request-Method: not a preflight');
    const post = await send(`${srv.url}/brokers`, 'POST', { origin: GAME });
    assert.equal(post.status, 405);
    const missing = await send(`${srv.url}/nope`, 'GET', { origin: GAME });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['access-control-allow-origin'], GAME, 'the page may read the error');
    const health = await send(`${srv.url}/health`, 'GET', { origin: GAME });
    assert.equal(health.body, 'ok');
    assert.equal(health.headers['access-control-allow-origin'], GAME);
  });
});

describe('BrokerList CORS with "*" and without the option', () => {
  test('"*" echoes any origin (GET and preflight)', async () => {
    const srv = await serve(['*']);
    try {
      for (const origin of ['http://a.example', 'https://b.example:4443', 'capacitor://localhost']) {
        const a = await send(`${srv.url}/brokers`, 'GET', { origin });
        assert.equal(a.headers['access-control-allow-origin'], origin);
        assert.equal(a.headers.vary, 'Origin');
        const pre = await send(`${srv.url}/brokers`, 'OPTIONS', { ...PREFLIGHT, origin });
        assert.equal(pre.status, 204);
        assert.equal(pre.headers['access-control-allow-origin'], origin);
      }
    } finally {
      await srv.stop();
    }
  });

  test('no corsOrigins: no CORS header, no Vary, and OPTIONS is 405 as before', async () => {
    const srv = await serve();
    try {
      const a = await send(`${srv.url}/brokers`, 'GET', { origin: GAME });
      assert.equal(a.status, 200);
      assert.deepEqual(corsHeaders(a), {});
      assert.equal(a.headers.vary, undefined);
      const pre = await send(`${srv.url}/brokers`, 'OPTIONS', PREFLIGHT);
      assert.equal(pre.status, 405);
      assert.deepEqual(corsHeaders(pre), {});
    } finally {
      await srv.stop();
    }
  });
});

describe('the corsOrigins option', () => {
  test('comma-separated from NOON_CORS_ORIGINS or the flag; default none', () => {
    assert.deepEqual(loadConfig({}, {}).corsOrigins, []);
    assert.deepEqual(loadConfig({}, { NOON_CORS_ORIGINS: ` ${GAME} , https://b.example,` }).corsOrigins, [
      GAME,
      'https://b.example',
    ]);
    assert.deepEqual(loadConfig({ corsOrigins: '*' }, { NOON_CORS_ORIGINS: GAME }).corsOrigins, ['*']);
    assert.deepEqual(loadConfig({}, { NOON_CORS_ORIGINS: 'http://[::1]:3000,app://game' }).corsOrigins, [
      'http://[::1]:3000',
      'app://game',
    ]);
  });

  test('anything but an origin or * stops the start with a message naming the option', () => {
    for (const bad of [
      'http://game.example/',
      'http://game.example/play',
      'HTTP://Game.example',
      'game.example',
      'null',
    ]) {
      assert.throws(
        () => loadConfig({}, { NOON_CORS_ORIGINS: bad }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.message.startsWith('config option --cors-origins / NOON_CORS_ORIGINS: ') &&
          err.message.includes(JSON.stringify(bad)),
        bad,
      );
    }
  });

  test('the brokerlist process answers CORS for NOON_CORS_ORIGINS', async (t) => {
    t.after(() => killAll());
    const child = await spawnReady('brokerlist-proc.ts', {
      NOON_YELLOW: 'tcp://127.0.0.1:9', // none there: the list stays empty, which is all this needs
      NOON_HOST: '127.0.0.1',
      NOON_BROKERLIST_PORT: '0',
      NOON_CORS_ORIGINS: GAME,
    });
    try {
      const url = String(child.ready.url);
      const ok = await send(`${url}/brokers`, 'GET', { origin: GAME });
      assert.equal(ok.headers['access-control-allow-origin'], GAME);
      assert.deepEqual(JSON.parse(ok.body), { version: '0.1.0', brokerList: {}, brokers: [] });
      const pre = await send(`${url}/brokers`, 'OPTIONS', PREFLIGHT);
      assert.equal(pre.status, 204);
      const other = await send(`${url}/brokers`, 'GET', { origin: 'http://evil.example' });
      assert.deepEqual(corsHeaders(other), {});
    } finally {
      await within(kill(child, 'SIGTERM'), 15_000, 'the brokerlist process exiting on SIGTERM');
    }
  });
});
