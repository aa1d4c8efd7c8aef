/**
 * Reconnect and resume against two fake brokers behind a BrokerList: when the
 * first broker's connections die, the client moves to the other broker, resumes its session with
 * Sso:resume before anything else, then sends the session's calls that were in flight once more
 * (same request id, docs/retries.md) and the calls made meanwhile; a call made before login
 * (no session to key a retry by) rejects as "outcome unknown". A session's call the server answers
 * TIMEOUT (outcome unknown) is sent once more with the same request id.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NoonClient } from '../../client/client';
import { ClientError, errorCode } from '../../client/errors';
import type { DisconnectInfo, ReconnectInfo } from '../../client/events';
import { FakeBackend, FakeBroker, staticBrokerList, type FakeConn } from '../support/client-fake-broker';
import { nextEvent } from '../support/wait';

const backend = new FakeBackend();
let a: FakeBroker;
let b: FakeBroker;
let list: Awaited<ReturnType<typeof staticBrokerList>>;
const clients: NoonClient[] = [];

function callAt(broker: FakeBroker, name: string, what: string): Promise<[FakeConn, string]> {
  return nextEvent<[FakeConn, string]>(
    (fn) => {
      broker.on('call', fn);
      return () => broker.off('call', fn);
    },
    (_c, n) => n === name,
    what,
    5000,
  );
}

describe('NoonClient reconnect', () => {
  before(async () => {
    a = await new FakeBroker('fake-a', backend).start();
    b = await new FakeBroker('fake-b', backend).start();
    // a stays listed (and less loaded) after it dies, as a BrokerList lags: the client must still prefer b
    list = await staticBrokerList([
      { broker: a, load: 0.1 },
      { broker: b, load: 0.5 },
    ]);
  });
  after(async () => {
    for (const c of clients) c.close();
    await a.stop();
    await b.stop();
    await list.close();
  });

  for (const transport of ['tcp', 'ws'] as const) {
    test(`over ${transport}: the session resumes on the other broker first, then the in-flight call is sent again`, async () => {
      const c = await NoonClient.viaBrokerList(list.url, { transport, keepAliveMs: 0, callTimeoutMs: 5000 });
      clients.push(c);
      assert.equal(c.endpoint, transport === 'tcp' ? a.tcp : a.ws, 'lowest load first');
      const session = await c.sso.register(`eve-${transport}`, 'pw-eve-1234');

      a.hold.add('Player:listUnits');
      const arrived = callAt(a, 'Player:listUnits', 'the held call at broker a');
      const inFlight = c.player.listUnits();
      const [connA] = await arrived;

      const disconnected = nextEvent<[DisconnectInfo]>(
        (fn) => c.on('disconnected', fn),
        () => true,
        'disconnected',
        5000,
      );
      const reconnected = nextEvent<[ReconnectInfo]>(
        (fn) => c.on('reconnected', fn),
        () => true,
        'reconnected',
        10_000,
      );
      const resumedAtB = callAt(b, 'Sso:resume', 'Sso:resume at broker b');
      connA.destroy();

      const [info] = await disconnected;
      assert.equal(info.willReconnect, true);
      // made while reconnecting: waits for the new connection and the resume, then goes through
      const walletWhileReconnecting = c.player.getWallet();

      const [connB] = await resumedAtB;
      const [done] = await reconnected;
      assert.equal(done.endpoint, transport === 'tcp' ? b.tcp : b.ws, 'a different broker than the one that died');
      assert.equal(done.session?.sessionId, session.sessionId, 'the same session');
      assert.equal(done.resumeError, undefined);
      assert.equal((await walletWhileReconnecting).soft?.toNumber(), 100);
      assert.deepEqual(await inFlight, [], 'the in-flight call was answered by b');
      assert.equal(connB.calls[0], 'Sso:resume', 'resume is the first call on the new connection');
      // the resume asks for the session's pushes from after the last one seen, before anything queued
      assert.deepEqual(connB.calls.slice(0, 4), [
        'Sso:resume',
        'Events:subscribe',
        'Player:listUnits',
        'Player:getWallet',
      ]);
      assert.equal(c.session?.sessionId, session.sessionId);
      assert.equal((await c.player.ping()).instance, 'fake-b', 'later calls work, on b');
      a.hold.delete('Player:listUnits');
      c.close();
    });
  }

  test('a call made before login is not sent again: it rejects as outcome unknown', async () => {
    const c = await NoonClient.connect({ tcp: a.tcp }, { keepAliveMs: 0, reconnect: false });
    clients.push(c);
    a.hold.add('Sso:login');
    try {
      const arrived = callAt(a, 'Sso:login', 'the held login at broker a');
      const login = c.sso.login('nobody', 'pw-nobody-1234');
      const [conn] = await arrived;
      conn.destroy();
      await assert.rejects(
        login,
        (e: unknown) => e instanceof ClientError && e.outcomeUnknown && /outcome is unknown/.test(e.message),
      );
    } finally {
      a.hold.delete('Sso:login');
    }
  });

  test('a call answered TIMEOUT (outcome unknown) in a session is sent once more with the same request id', async () => {
    const c = await NoonClient.connect({ tcp: b.tcp }, { keepAliveMs: 0, reconnect: false });
    clients.push(c);
    b.timeouts.set('Player:ping', 1);
    await assert.rejects(
      c.player.ping(),
      (e: unknown) => errorCode(e) === 'TIMEOUT',
      'before login a call has no request id: the TIMEOUT reaches the app',
    );
    await c.sso.register('gil', 'pw-gil-1234');
    const conn = [...b.conns].find((x) => x.session?.username === 'gil') as FakeConn;
    const callsOf = (name: string): string[] => conn.requestIds.filter((_, i) => conn.calls[i] === name);

    b.timeouts.set('Player:getWallet', 1);
    assert.equal((await c.player.getWallet()).soft?.toNumber(), 100, 'the second attempt was answered');
    const [first, second] = callsOf('Player:getWallet');
    assert.equal(callsOf('Player:getWallet').length, 2, 'sent twice');
    assert.match(String(first), /^[0-9a-f]{20}$/);
    assert.equal(second, first, 'with the same request id');

    b.timeouts.set('Player:getWallet', 2);
    await assert.rejects(
      c.player.getWallet(),
      (e: unknown) => errorCode(e) === 'TIMEOUT' && /outcome unknown/.test(String((e as Error).message)),
      'a second TIMEOUT reaches the app',
    );
    assert.equal(callsOf('Player:getWallet').length, 4, 'sent once more, not again');
    assert.equal(b.timeouts.get('Player:getWallet'), 0);
    assert.notEqual(callsOf('Player:getWallet')[2], first, 'a new call has a new request id');
    c.close();
  });

  test('a refused resume is reported and forgets the session; the connection stays usable', async () => {
    const c = await NoonClient.connect({ tcp: b.tcp }, { keepAliveMs: 0 });
    clients.push(c);
    const s = await c.sso.register('fay', 'pw-fay-1234');
    backend.sessions.delete(s.token ?? ''); // revoked server-side
    const reconnected = nextEvent<[ReconnectInfo]>(
      (fn) => c.on('reconnected', fn),
      () => true,
      'reconnected',
      10_000,
    );
    for (const conn of b.conns) if (conn.session?.sessionId === s.sessionId) conn.destroy();
    const [info] = await reconnected;
    assert.match(String(info.resumeError?.message), /unknown or expired token/);
    assert.equal(c.session, undefined);
    assert.equal(info.endpoint, b.tcp, 'a fixed endpoint reconnects to itself');
    assert.equal((await c.sso.ping()).instance, 'fake-b');
    c.close();
  });

  test('with reconnect: false a drop closes the client and later calls fail CLOSED', async () => {
    const c = await NoonClient.connect({ tcp: b.tcp }, { keepAliveMs: 0, reconnect: false });
    clients.push(c);
    await c.sso.ping();
    const disconnected = nextEvent<[DisconnectInfo]>(
      (fn) => c.on('disconnected', fn),
      () => true,
      'disconnected',
      5000,
    );
    b.killConnections();
    const [info] = await disconnected;
    assert.equal(info.willReconnect, false);
    await assert.rejects(c.sso.ping(), (e: unknown) => e instanceof ClientError && e.code === 'CLOSED');
  });

  test('a silent broker is detected by the keep-alive ping and left', async () => {
    const c = await NoonClient.connect({ tcp: b.tcp }, { keepAliveMs: 150, callTimeoutMs: 300 });
    clients.push(c);
    await c.sso.ping();
    b.hold.add('Sso:ping');
    try {
      const [info] = await nextEvent<[DisconnectInfo]>(
        (fn) => c.on('disconnected', fn),
        () => true,
        'disconnected by keep-alive',
        5000,
      );
      assert.match(info.reason, /keep-alive/);
    } finally {
      b.hold.delete('Sso:ping');
    }
    await nextEvent<[ReconnectInfo]>(
      (fn) => c.on('reconnected', fn),
      () => true,
      'reconnected',
      5000,
    );
    c.close();
  });
});
