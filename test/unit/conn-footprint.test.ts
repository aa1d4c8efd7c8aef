/**
 * What an idle client connection costs the broker (bench/idle-conns.ts measures it): the edge
 * keeps no closures per connection (the TCP and WebSocket wires are class instances whose
 * methods, and their sockets' listeners, are shared by every connection), and a BrokerConn makes
 * its bindings Map only on the first binding. Real sockets on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, test } from 'node:test';
import WebSocket from 'ws';
import { BrokerConn } from '../../broker/connection';
import { ClientConn, type Wire } from '../../edge/client-conn';
import { frameOf } from '../../edge/framing';
import { listenTcp, type TcpHandlers } from '../../edge/tcp';
import { listenWs } from '../../edge/ws';
import { silentLogger } from '../../shared/log';
import { until } from '../support/wait';

const logger = silentLogger();
const closers: (() => void)[] = [];
after(() => {
  for (const c of closers) c();
});

/** Handlers that keep each wire and the messages it delivered. */
function recording(): { handlers: TcpHandlers; wires: Wire[]; messages: string[] } {
  const wires: Wire[] = [];
  const messages: string[] = [];
  return {
    wires,
    messages,
    handlers: {
      open: (wire) => {
        wires.push(wire);
        return { message: (b) => messages.push(b.toString()), closed: () => undefined };
      },
    },
  };
}

test('TCP: every connection shares its wire methods and socket listeners; frames still arrive', async () => {
  const r = recording();
  const { server, endpoint } = await listenTcp({
    host: '127.0.0.1',
    port: 0,
    maxFrame: 1024,
    logger,
    handlers: r.handlers,
  });
  const accepted: Socket[] = [];
  server.on('connection', (s: Socket) => accepted.push(s));
  closers.push(() => server.close());
  const port = Number(endpoint.split(':')[1]);
  const clients = [connect(port, '127.0.0.1'), connect(port, '127.0.0.1')];
  closers.push(() => clients.forEach((c) => c.destroy()));
  for (const [i, c] of clients.entries()) c.write(Buffer.concat(frameOf(Buffer.from(`hello ${i}`))));
  await until('both frames', () => r.messages.length === 2);
  assert.deepEqual([...r.messages].sort(), ['hello 0', 'hello 1']);
  const [a, b] = r.wires as [Wire, Wire];
  assert.equal(a.write, b.write, 'write is a shared method, not a closure per connection');
  assert.equal(a.bufferedBytes, b.bufferedBytes);
  assert.equal(a.close, b.close);
  const [sa, sb] = accepted as [Socket, Socket];
  for (const event of ['data', 'close', 'error'])
    assert.deepEqual(sa.listeners(event), sb.listeners(event), `'${event}' listeners are shared functions`);
});

test('WebSocket: every connection shares its wire methods; messages still arrive', async () => {
  const r = recording();
  const { server, endpoint } = await listenWs({
    host: '127.0.0.1',
    port: 0,
    maxFrame: 1024,
    headersTimeoutMs: 5000,
    logger,
    handlers: r.handlers,
  });
  closers.push(() => server.close());
  const clients = [new WebSocket(endpoint), new WebSocket(endpoint)];
  closers.push(() => clients.forEach((c) => c.terminate()));
  for (const [i, c] of clients.entries()) c.on('open', () => c.send(Buffer.from(`hi ${i}`)));
  await until('both messages', () => r.messages.length === 2);
  assert.deepEqual([...r.messages].sort(), ['hi 0', 'hi 1']);
  const [a, b] = r.wires as [Wire, Wire];
  assert.equal(a.write, b.write);
  assert.equal(a.close, b.close);
});

test('BrokerConn: no bindings Map until the first binding; logout drops it', () => {
  const wire: Wire = {
    transport: 'tcp',
    remote: '127.0.0.1',
    write: (_m, done) => done(),
    bufferedBytes: () => 0,
    close: () => undefined,
  };
  const limits = { outboundQueue: 10, outboundBytes: 1000, outboundGraceMs: 100, callsPerSecond: 10 };
  const a = new BrokerConn(new ClientConn(wire, limits, () => undefined));
  const b = new BrokerConn(new ClientConn(wire, limits, () => undefined));
  assert.equal(a.bindings, b.bindings, 'unbound connections share one empty map');
  assert.equal(a.bindings.size, 0);
  a.setBinding('duel', 'duel-1');
  assert.equal(a.bindings.get('duel'), 'duel-1');
  assert.equal(b.bindings.size, 0, 'a binding is only its own connection’s');
  assert.equal(a.view().bindings.get('duel'), 'duel-1');
  a.setBinding('duel', undefined);
  assert.equal(a.bindings.size, 0);
  a.setBinding('duel', 'duel-2');
  a.logout();
  assert.equal(a.bindings.size, 0);
});
