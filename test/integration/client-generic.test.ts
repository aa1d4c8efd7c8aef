/**
 * The SDK's generic surface against the fake broker (test/support/client-fake-broker.ts):
 * `service()` for any generated client and `Service:method` name, `onPushes()` for a service's
 * own ONEWAY pushes decoded by a generated Processor, and the `i64` option — bigints in replies,
 * pushes and the session with `i64: 'bigint'`, node-int64 objects by default, bigint arguments
 * accepted either way — over TCP and WebSocket, compact and binary.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type Int64 from 'node-int64';
import { NoonClient } from '../../client/client';
import { errorCode } from '../../client/errors';
import { i64 } from '../../client/i64';
import { Currency, Events, Leaderboard, Player, SpendRequest, Wallet } from '../../shared/protocol';
import { events, onewayCall } from '../../shared/thrift/events';
import { FakeBackend, FakeBroker } from '../support/client-fake-broker';
import { nextEvent, until } from '../support/wait';

const backend = new FakeBackend();
let broker: FakeBroker;
const clients: Array<{ close(): void }> = [];
let users = 0;

function track<C extends { close(): void }>(c: C): C {
  clients.push(c);
  return c;
}

/** A push of a studio's own service: same argument struct as Events:walletChanged, another name. */
function studioPush(service: string, soft: number): Buffer {
  return onewayCall(
    `${service}:walletChanged`,
    new Events.WalletChangedArgs({ wallet: new Wallet({ soft, hard: 1 }) }),
  );
}

describe('NoonClient generic services, pushes and i64 mode', () => {
  before(async () => {
    broker = await new FakeBroker('fake-g', backend).start();
  });
  after(async () => {
    for (const c of clients) c.close();
    await broker.stop();
  });

  for (const transport of ['tcp', 'ws'] as const) {
    for (const protocol of ['compact', 'binary'] as const) {
      test(`i64: 'bigint' over ${transport} in ${protocol}: replies, pushes and the session carry bigints`, async () => {
        const target = transport === 'tcp' ? { tcp: broker.tcp } : { ws: broker.ws };
        const c = track(await NoonClient.connect(target, { i64: 'bigint', protocol, keepAliveMs: 0 }));
        assert.equal(c.i64, 'bigint');
        const s = await c.sso.register(`big-${transport}-${protocol}`, 'pw-big-1234');
        assert.equal(typeof s.expiresAtMs, 'bigint');
        assert.equal(c.session?.expiresAtMs, s.expiresAtMs);
        assert.equal((await c.player.getWallet()).soft, 100n);
        const pushed = nextEvent<[{ soft?: bigint; hard?: bigint }]>(
          (fn) => c.on('walletChanged', fn),
          () => true,
          'walletChanged',
          5000,
        );
        // a bigint argument, as a JavaScript page would give it (typed code wraps it with i64())
        const req = new SpendRequest({ idempotencyKey: 'k', currency: Currency.SOFT, amount: 0, reason: 'r' });
        (req as unknown as { amount: bigint }).amount = 30n;
        const reply = await c.player.spendCurrency(req);
        assert.deepEqual([reply.soft, reply.hard], [70n, 0n]);
        const [w] = await pushed;
        assert.deepEqual([w.soft, w.hard], [70n, 0n]);
        const again = await c.player.spendCurrency(
          new SpendRequest({ idempotencyKey: 'k2', currency: Currency.SOFT, amount: i64(20n), reason: 'r' }),
        );
        assert.equal(again.soft, 50n);
      });
    }
  }

  test('by default i64s stay node-int64 objects (the loadtest and the CLI read them), bigint arguments still work', async () => {
    const c = track(await NoonClient.connect({ tcp: broker.tcp }, { keepAliveMs: 0 }));
    assert.equal(c.i64, 'int64');
    const s = await c.sso.register(`int64-${++users}`, 'pw-int-1234');
    assert.equal(typeof s.expiresAtMs?.toNumber(), 'number');
    const w = await c.player.spendCurrency(
      new SpendRequest({ idempotencyKey: 'k', currency: Currency.SOFT, amount: i64(5n), reason: 'r' }),
    );
    assert.equal((w.soft as Int64).toNumber(), 95);
  });

  test('service() gives the generated client of any service name, one per name', async () => {
    const c = track(await NoonClient.connect({ tcp: broker.tcp }, { keepAliveMs: 0, i64: 'bigint' }));
    assert.equal(c.service(Player.Client, 'Player'), c.player, 'the built-in services are service() clients too');
    const studio = c.service(Leaderboard.Client, 'Studio');
    assert.equal(c.service(Leaderboard.Client, 'Studio'), studio);
    await c.sso.register(`svc-${++users}`, 'pw-svc-1234');
    const seen = nextEvent<[unknown, string]>(
      (fn) => {
        broker.on('call', fn);
        return () => broker.off('call', fn);
      },
      (_conn, name) => name.startsWith('Studio:'),
      'a Studio call at the broker',
      5000,
    );
    const rejected = studio.top('weekly', 10).then(
      () => 'resolved',
      (err: unknown) => errorCode(err),
    );
    assert.equal((await seen)[1], 'Studio:top', 'called as Service:method');
    assert.equal(await rejected, 'UNKNOWN_METHOD', 'the fake broker has no Studio service');
  });

  test("onPushes() decodes a service's own ONEWAY pushes with its Processor; the rest is ignored", async () => {
    const warnings: unknown[] = [];
    const logger = { warn: (obj: unknown) => void warnings.push(obj) };
    const c = track(await NoonClient.connect({ tcp: broker.tcp }, { keepAliveMs: 0, i64: 'bigint', logger }));
    await c.sso.register(`push-${++users}`, 'pw-push-1234');
    const studio: bigint[] = [];
    const second: bigint[] = [];
    const builtin: unknown[] = [];
    c.on('walletChanged', (w) => builtin.push(w.soft));
    const remove = c.onPushes('Studio', Events.Processor, {
      walletChanged: (w) => {
        studio.push(w.soft as bigint);
        throw new Error('a handler that throws does not stop the others');
      },
    });
    c.onPushes('Studio', Events.Processor, { walletChanged: (w) => void second.push(w.soft as bigint) });

    broker.pushAll(studioPush('Studio', 7));
    broker.pushAll(studioPush('Unknown', 8)); // a service nobody listens to: dropped, logged
    broker.pushAll(onewayCall('Studio:noSuchPush', new Events.KickedArgs({ reason: 'x' })));
    broker.pushAll(events.walletChanged(new Wallet({ soft: 9, hard: 0 })));
    await until('the Events push after the others', () => builtin.length === 1, 5000);
    assert.deepEqual(studio, [7n]);
    assert.deepEqual(second, [7n]);
    assert.deepEqual(builtin, [9n], 'Studio:walletChanged is not Events:walletChanged');
    const texts = warnings.map((w) => String((w as { err?: Error }).err?.message));
    assert.ok(texts.includes('a handler that throws does not stop the others'), texts.join(' | '));
    assert.ok(texts.includes('no handler for push "Unknown:walletChanged"'), texts.join(' | '));
    assert.ok(texts.includes('unknown push "Studio:noSuchPush"'), texts.join(' | '));

    remove();
    broker.pushAll(studioPush('Studio', 10));
    broker.pushAll(events.walletChanged(new Wallet({ soft: 11, hard: 0 })));
    await until('the next Events push', () => builtin.length === 2, 5000);
    assert.deepEqual(studio, [7n], 'removed');
    assert.deepEqual(second, [7n, 10n]);
    assert.equal((await c.player.getWallet()).soft, 100n, 'the connection is still fine');
  });

  test('onPushes() refuses something that is not a Processor', async () => {
    const c = track(await NoonClient.connect({ tcp: broker.tcp }, { keepAliveMs: 0 }));
    const NotAProcessor = class {
      constructor(readonly handler: object) {}
    };
    assert.throws(() => c.onPushes('Studio', NotAProcessor, {}), /has no process\(input, output\) method/);
  });
});
