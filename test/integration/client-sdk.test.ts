/**
 * The SDK against a fake broker (test/support/client-fake-broker.ts): typed calls over TCP and
 * WebSocket in compact and binary protocol, game and broker errors, pushes, per-call deadlines.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NoonClient, type NoonClientOptions } from '../../client/client';
import { ClientError, errorCode } from '../../client/errors';
import {
  ChatMessage,
  Currency,
  DuelPhase,
  DuelState,
  SpendRequest,
  StateLostKind,
  type Wallet,
} from '../../shared/protocol';
import { events } from '../../shared/thrift/events';
import { FakeBackend, FakeBroker } from '../support/client-fake-broker';
import { nextEvent } from '../support/wait';

const backend = new FakeBackend();
let broker: FakeBroker;
const clients: NoonClient[] = [];

async function connect(transport: 'tcp' | 'ws', opts: NoonClientOptions = {}): Promise<NoonClient> {
  const c = await NoonClient.connect(transport === 'tcp' ? { tcp: broker.tcp } : { ws: broker.ws }, {
    keepAliveMs: 0,
    ...opts,
  });
  clients.push(c);
  return c;
}

function rejectsWith(p: Promise<unknown>, check: (err: unknown) => boolean): Promise<void> {
  return p.then(
    () => assert.fail('expected a rejection'),
    (err: unknown) => assert.ok(check(err), `unexpected error: ${String(err)}`),
  );
}

describe('NoonClient against a fake broker', () => {
  before(async () => {
    broker = await new FakeBroker('fake-a', backend).start();
  });
  after(async () => {
    for (const c of clients) c.close();
    await broker.stop();
  });

  for (const transport of ['tcp', 'ws'] as const) {
    for (const protocol of ['compact', 'binary'] as const) {
      test(`calls resolve over ${transport} in ${protocol} protocol, and the session is remembered`, async () => {
        const c = await connect(transport, { protocol });
        const user = `ann-${transport}-${protocol}`;
        assert.equal(c.session, undefined);
        const s = await c.sso.register(user, 'pw-ann-123');
        assert.equal(s.username, user);
        assert.deepEqual(c.session, s);
        const w = await c.player.getWallet();
        assert.equal(w.soft?.toNumber(), 100);
        const pong = await c.player.ping();
        assert.equal(pong.instance, 'fake-a');
        const conn = [...broker.conns].find((k) => k.session?.username === user);
        assert.equal(conn?.transport, transport);
        await c.sso.logout();
        assert.equal(c.session, undefined);
      });
    }
  }

  test('game errors arrive as GameError and broker errors as coded TApplicationExceptions', async () => {
    const c = await connect('tcp');
    await rejectsWith(
      c.player.getWallet(),
      (e) => errorCode(e) === 'UNAUTHENTICATED' && /log in first/.test((e as Error).message),
    );
    await rejectsWith(c.sso.login('nobody', 'wrong-password'), (e) => errorCode(e) === 'INVALID_CREDENTIALS');
    await c.sso.register('bob', 'pw-bob-1234');
    await rejectsWith(
      c.player.spendCurrency(
        new SpendRequest({ idempotencyKey: 'k1', currency: Currency.SOFT, amount: 1000, reason: 't' }),
      ),
      (e) => errorCode(e) === 'INSUFFICIENT_FUNDS',
    );
    await rejectsWith(c.duel.ping(), (e) => errorCode(e) === 'UNKNOWN_METHOD');
  });

  test('pushes reach on(...) with their IDL arguments', async () => {
    const c = await connect('tcp', { protocol: 'binary' });
    await c.sso.register('cat', 'pw-cat-1234');
    const wallet = nextEvent<[Wallet]>(
      (fn) => c.on('walletChanged', fn),
      () => true,
      'walletChanged push',
      5000,
    );
    const reply = await c.player.spendCurrency(
      new SpendRequest({ idempotencyKey: 'k2', currency: Currency.SOFT, amount: 30, reason: 't' }),
    );
    assert.equal(reply.soft?.toNumber(), 70);
    assert.equal((await wallet)[0].soft?.toNumber(), 70);

    const lost = nextEvent<[string, StateLostKind, string]>(
      (fn) => c.on('stateLost', fn),
      () => true,
      'stateLost push',
      5000,
    );
    const duel = nextEvent<[DuelState]>(
      (fn) => c.on('duelUpdated', fn),
      () => true,
      'duelUpdated push',
      5000,
    );
    const chat = nextEvent<[ChatMessage]>(
      (fn) => c.on('chatMessage', fn),
      () => true,
      'chatMessage push',
      5000,
    );
    broker.pushAll(events.stateLost('duel', StateLostKind.INSTANCE_DIED, 'duel-1 is gone'));
    broker.pushAll(
      events.duelUpdated(
        new DuelState({
          duelId: 'd1',
          phase: DuelPhase.ACTIVE,
          players: ['u-cat', 'u-dog'],
          drawn: new Map(),
          winner: '',
          reason: '',
          stake: 5,
          deadlineMs: 0,
        }),
      ),
    );
    broker.pushAll(
      events.chatMessage(
        new ChatMessage({ roomId: 'r1', seq: 7, userId: 'u-dog', username: 'dog', text: 'hi', sentAtMs: 1 }),
      ),
    );
    assert.deepEqual(await lost, ['duel', StateLostKind.INSTANCE_DIED, 'duel-1 is gone']);
    const [state] = await duel;
    assert.equal(state.duelId, 'd1');
    assert.deepEqual(state.players, ['u-cat', 'u-dog']);
    const [msg] = await chat;
    assert.equal(msg.seq?.toNumber(), 7);
    assert.equal(msg.text, 'hi');
  });

  test('a listener that throws does not break the client', async () => {
    const c = await connect('ws');
    c.on('kicked', () => {
      throw new Error('listener bug');
    });
    const got = nextEvent<[string]>(
      (fn) => c.on('kicked', fn),
      () => true,
      'kicked push',
      5000,
    );
    broker.pushAll(events.kicked('test'));
    assert.deepEqual(await got, ['test']);
    await c.sso.ping();
  });

  test('a call with no reply rejects with TIMEOUT, outcome unknown, at its deadline', async () => {
    broker.hold.add('Player:listUnits');
    try {
      const c = await connect('tcp', { callTimeoutMs: 200 });
      await c.sso.register('dan', 'pw-dan-1234');
      const started = Date.now();
      await rejectsWith(
        c.player.listUnits(),
        (e) =>
          e instanceof ClientError &&
          e.code === 'TIMEOUT' &&
          e.outcomeUnknown &&
          /Player:listUnits/.test(e.message) &&
          /outcome is unknown/.test(e.message),
      );
      assert.ok(Date.now() - started >= 190, 'not before the deadline');
      await rejectsWith(
        c.withTimeout(50, () => c.player.listUnits()),
        (e) => e instanceof ClientError && /within 50 ms/.test(e.message),
      );
      assert.equal((await c.player.getWallet()).soft?.toNumber(), 100, 'the connection still works');
    } finally {
      broker.hold.delete('Player:listUnits');
    }
  });

  test('close() rejects calls in flight with CLOSED and later calls at once', async () => {
    broker.hold.add('Sso:ping');
    try {
      const c = await connect('tcp');
      const arrived = nextEvent(
        (fn) => {
          broker.on('call', fn);
          return () => broker.off('call', fn);
        },
        (_c, name) => name === 'Sso:ping',
        'ping at the broker',
        5000,
      );
      const pending = c.sso.ping();
      await arrived;
      c.close();
      await rejectsWith(pending, (e) => e instanceof ClientError && e.code === 'CLOSED' && e.outcomeUnknown);
      await rejectsWith(c.sso.ping(), (e) => e instanceof ClientError && e.code === 'CLOSED' && !e.outcomeUnknown);
    } finally {
      broker.hold.delete('Sso:ping');
    }
  });
});
