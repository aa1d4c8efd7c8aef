/**
 * BrokerList against a real in-process Yellow with fake 'broker' registrations: the answer's
 * shape and loads, draining and silent brokers leaving it, HTTP limits (slowloris), 404/405, the
 * SDK's fetchBrokers over it, and the brokerlist process registering itself in Yellow.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fetchBrokers, pickBroker } from '../../client/brokerlist';
import { BrokerListServer, type BrokerListBody } from '../../edge/brokerlist/server';
import { silentLogger } from '../../shared/log';
import { YellowClient } from '../../yellow/client';
import type { Directory } from '../../yellow/directory';
import { YellowServer } from '../../yellow/server';
import type { InstanceLoad } from '../../yellow/types';
import { kill, killAll, spawnReady } from '../support/yellow-harness';
import { until, within } from '../support/wait';

const HB = 100;
const logger = silentLogger();
let yellow: YellowServer;
let router = '';
const clients: YellowClient[] = [];

async function fakeBroker(id: string, port: number, load: InstanceLoad): Promise<YellowClient> {
  const c = new YellowClient({ endpoints: [router], heartbeatMs: HB, logger });
  clients.push(c);
  await c.register({
    role: 'broker',
    instanceId: id,
    host: '127.0.0.1',
    version: 'test',
    pid: process.pid,
    startedAt: Date.now(),
    endpoints: { tcp: `127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port + 1}` },
    load,
  });
  return c;
}

async function getJson(url: string): Promise<BrokerListBody> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  return (await res.json()) as BrokerListBody;
}

describe('BrokerList server', () => {
  let directory: Directory;
  let server: BrokerListServer;
  let url = '';

  before(async () => {
    yellow = new YellowServer({ host: '127.0.0.1', port: 0, heartbeatMs: HB, logger });
    router = (await yellow.start()).router;
    const consumer = new YellowClient({ endpoints: [router], heartbeatMs: HB, logger });
    clients.push(consumer);
    directory = await consumer.watch();
    server = new BrokerListServer({
      directory,
      host: '127.0.0.1',
      port: 0,
      logger,
      version: '0.1.0',
      maxAgeMs: 50,
      headersTimeoutMs: 300,
      requestTimeoutMs: 600,
      timeoutCheckMs: 50,
    });
    url = await server.start();
  });

  after(async () => {
    await server.stop();
    for (const c of clients) await c.stop();
    await yellow.stop();
    killAll();
  });

  test('answers the original shape with each broker load, by score or else elu', async () => {
    await fakeBroker('broker-a', 7800, { inFlight: 3, elu: 0.5, connections: 12, score: 0.067 });
    await fakeBroker('broker-b', 7810, { inFlight: 0, elu: 0.0418, connections: 2 });
    const body = await until(
      'both brokers listed',
      async () => {
        const b = await getJson(`${url}/brokers`);
        return Object.keys(b.brokerList).length === 2 ? b : undefined;
      },
      5000,
    );
    assert.equal(body.version, '0.1.0');
    assert.deepEqual(body.brokerList, { '127.0.0.1:7800': 0.067, '127.0.0.1:7810': 0.0418 });
    assert.deepEqual(body.brokers, [
      { instanceId: 'broker-a', tcp: '127.0.0.1:7800', ws: 'ws://127.0.0.1:7801', load: 0.067, connections: 12 },
      { instanceId: 'broker-b', tcp: '127.0.0.1:7810', ws: 'ws://127.0.0.1:7811', load: 0.0418, connections: 2 },
    ]);
    assert.deepEqual(await getJson(`${url}/`), body, '/ answers the same as /brokers');
    const brokers = await fetchBrokers(`${url}/brokers`, { timeoutMs: 2000 });
    assert.equal(pickBroker(brokers, 'tcp')?.tcp, '127.0.0.1:7810');
    assert.equal(pickBroker(brokers, 'ws')?.ws, 'ws://127.0.0.1:7811');
    assert.equal(
      pickBroker(brokers, 'tcp', new Set(['127.0.0.1:7810']))?.tcp,
      '127.0.0.1:7800',
      'an avoided broker goes last',
    );
  });

  test('a draining broker disappears', async () => {
    await fakeBroker('broker-d', 7820, { inFlight: 0, elu: 0.1 });
    await until(
      'broker-d listed',
      async () => ('127.0.0.1:7820' in (await getJson(url)).brokerList ? true : undefined),
      5000,
    );
    const admin = new YellowClient({ endpoints: [router], heartbeatMs: HB, logger });
    clients.push(admin);
    await admin.drain('broker-d', true);
    await until(
      'broker-d gone',
      async () => (!('127.0.0.1:7820' in (await getJson(url)).brokerList) ? true : undefined),
      5000,
    );
    const body = await getJson(url);
    assert.ok(!body.brokers.some((b) => b.instanceId === 'broker-d'));
  });

  test('a broker that stops heartbeating disappears', async () => {
    const silent = await fakeBroker('broker-s', 7830, { inFlight: 0, elu: 0.2 });
    await until(
      'broker-s listed',
      async () => ('127.0.0.1:7830' in (await getJson(url)).brokerList ? true : undefined),
      5000,
    );
    await silent.stop(); // no deregister: Yellow must expire it after missed heartbeats
    await until(
      'broker-s expired',
      async () => (!('127.0.0.1:7830' in (await getJson(url)).brokerList) ? true : undefined),
      10 * HB + 5000,
    );
  });

  test('GET /health is ok; other paths 404; other methods 405', async () => {
    const health = await fetch(`${url}/health`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok');
    const missing = await fetch(`${url}/nope`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const post = await fetch(`${url}/brokers`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    await post.body?.cancel();
    const del = await fetch(`${url}/`, { method: 'DELETE' });
    assert.equal(del.status, 405);
    await del.body?.cancel();
  });

  test('a slowloris client is disconnected by headersTimeout', async () => {
    const { port } = new URL(url);
    const socket = net.connect({ host: '127.0.0.1', port: Number(port) });
    socket.on('error', () => undefined);
    const started = Date.now();
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)));
    socket.write('GET /brokers HTTP/1.1\r\n');
    // one header byte now and then: each byte alone would reset an idle timer, not headersTimeout
    const drip = setInterval(() => socket.writable && socket.write('X'), 50);
    try {
      const elapsed = await within(closed, 5000, 'the slowloris socket closed');
      assert.ok(elapsed >= 250, `closed after ${elapsed} ms, before headersTimeout`);
      assert.match(Buffer.concat(received).toString(), /^HTTP\/1\.1 408/);
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
  });

  test('the cached body is at most maxAgeMs old', async () => {
    const t0 = Date.now() + 10_000; // later than any build so far: the first call rebuilds
    const first = server.body(t0);
    assert.equal(server.body(t0 + 10), first, 'reused inside maxAgeMs');
    await fakeBroker('broker-c', 7840, { inFlight: 0, elu: 0.3 });
    await until('broker-c in the directory', () => (directory.get('broker-c') ? true : undefined), 5000);
    assert.notEqual(server.body(t0 + 50).toString(), first.toString(), 'rebuilt after maxAgeMs');
  });
});

describe('BrokerList process', () => {
  after(async () => {
    killAll();
  });

  test('prints its ready line and registers in Yellow as role brokerlist with endpoints.http', async () => {
    const y = new YellowServer({ host: '127.0.0.1', port: 0, heartbeatMs: HB, logger });
    const { router: r } = await y.start();
    const child = await spawnReady('brokerlist-proc.ts', {
      NOON_YELLOW: r,
      NOON_HOST: '127.0.0.1',
      NOON_BROKERLIST_PORT: '0',
      NOON_HEARTBEAT_MS: String(HB),
    });
    const consumer = new YellowClient({ endpoints: [r], heartbeatMs: HB, logger });
    try {
      const url = String(child.ready.url);
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const dir = await consumer.watch();
      const rec = await until('brokerlist registered', () => dir.instances({ role: 'brokerlist' })[0], 5000);
      assert.equal(rec.endpoints.http, url);
      const body = (await (await fetch(`${url}/brokers`)).json()) as BrokerListBody;
      assert.deepEqual(body, { version: '0.1.0', brokerList: {}, brokers: [] });
    } finally {
      await kill(child, 'SIGTERM');
      await consumer.stop();
      await y.stop();
    }
  });
});
