import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as zmq from 'zeromq';
import { silentLogger } from '../../shared/log';
import { YellowClient } from '../../yellow/client';
import { YellowServer } from '../../yellow/server';
import { PROTOCOL_TAG } from '../../yellow/wire';

const HB = 200;
/** Deadline for one reply on loopback. */
const REPLY_MS = 3000;

let server: YellowServer;
let router = '';
const sockets: zmq.Dealer[] = [];

function dealer(): zmq.Dealer {
  const d = new zmq.Dealer({ linger: 0, receiveTimeout: REPLY_MS, sendTimeout: REPLY_MS });
  d.connect(router);
  sockets.push(d);
  return d;
}

async function receiveJson(d: zmq.Dealer): Promise<Record<string, unknown>> {
  const frames = await d.receive();
  assert.equal(frames.length, 2);
  assert.equal(frames[0]!.toString(), PROTOCOL_TAG);
  return JSON.parse(frames[1]!.toString()) as Record<string, unknown>;
}

let rid = 1000;
/** Sends a good query and returns the replies received before its answer (rid-matched). */
async function goodQuery(
  d: zmq.Dealer,
): Promise<{ before: Array<Record<string, unknown>>; answer: Record<string, unknown> }> {
  const myRid = ++rid;
  await d.send([PROTOCOL_TAG, JSON.stringify({ op: 'query', rid: myRid })]);
  const seen: Array<Record<string, unknown>> = [];
  for (;;) {
    const r = await receiveJson(d);
    if (r.rid === myRid) return { before: seen, answer: r };
    seen.push(r);
  }
}

describe('Yellow wire: hostile frames', () => {
  before(async () => {
    server = new YellowServer({ host: '127.0.0.1', port: 0, heartbeatMs: HB, logger: silentLogger() });
    router = (await server.start()).router;
  });
  after(async () => {
    for (const s of sockets) s.close();
    await server.stop();
  });

  const dropped: Array<[string, Array<string | Buffer>]> = [
    ['wrong tag', ['noon-yellow/0', JSON.stringify({ op: 'query', rid: 1 })]],
    ['one frame', [PROTOCOL_TAG]],
    ['five frames', [PROTOCOL_TAG, '{}', 'a', 'b', 'c']],
    ['non-JSON', [PROTOCOL_TAG, '{not json']],
    ['JSON array', [PROTOCOL_TAG, '[1,2,3]']],
    ['JSON without rid', [PROTOCOL_TAG, JSON.stringify({ op: 'query' })]],
    ['binary garbage', [Buffer.from([0xff, 0x00, 0xfe]), Buffer.alloc(100, 0xaa)]],
  ];
  for (const [name, frames] of dropped) {
    test(`${name} is dropped and the server keeps answering`, async () => {
      const d = dealer();
      await d.send(frames);
      const { before: extra, answer } = await goodQuery(d);
      assert.deepEqual(extra, [], 'the malformed message got no reply');
      assert.equal(answer.ok, true);
      assert.ok(Array.isArray(answer.instances));
    });
  }

  test('unknown op is answered with an error carrying the rid', async () => {
    const d = dealer();
    await d.send([PROTOCOL_TAG, JSON.stringify({ op: 'explode', rid: 7 })]);
    const err = await receiveJson(d);
    assert.equal(err.rid, 7);
    assert.equal(err.ok, false);
    assert.match(String((err.error as { message: string }).message), /unknown op/);
    assert.equal((await goodQuery(d)).answer.ok, true);
  });

  test('a bad registration is refused naming the field', async () => {
    const d = dealer();
    const reg = {
      role: 'player',
      instanceId: 'p1',
      host: '127.0.0.1',
      endpoints: { router: 'udp://x:1' },
      version: '1',
      pid: 1,
      startedAt: 1,
      load: { inFlight: 0, elu: 0 },
    };
    await d.send([PROTOCOL_TAG, JSON.stringify({ op: 'register', rid: 'r-1', reg })]);
    const err = await receiveJson(d);
    assert.equal(err.rid, 'r-1');
    assert.equal((err.error as { code: string }).code, 'BAD_REQUEST');
    assert.match(String((err.error as { message: string }).message), /endpoints\.router/);
  });

  test('a 1 MB frame is dropped (over maxMessageSize) and other peers are still served', async () => {
    const hostile = dealer();
    await hostile.send([PROTOCOL_TAG, Buffer.alloc(1 << 20, 0x41)]);
    const d = dealer();
    const { answer } = await goodQuery(d);
    assert.equal(answer.ok, true);
  });

  test('1,000 garbage messages in a burst, then a good query', async () => {
    const d = dealer();
    for (let i = 0; i < 1000; i++) await d.send([PROTOCOL_TAG, `{"op":"query","rid":${i}`]);
    const { before: extra, answer } = await goodQuery(d);
    assert.deepEqual(extra, []);
    assert.equal(answer.ok, true);
  });

  test('hello and query report the PUB endpoint and warm-up', async () => {
    const d = dealer();
    await d.send([PROTOCOL_TAG, JSON.stringify({ op: 'hello', rid: 1 })]);
    const hello = await receiveJson(d);
    assert.match(String(hello.pub), /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(typeof hello.startedAt, 'number');
    assert.equal(typeof hello.warmingUp, 'boolean');
  });
});

describe('Yellow wire: large answers', () => {
  test('a query answer far above the 64 KiB request cap reaches a YellowClient', async () => {
    const srv = new YellowServer({ host: '127.0.0.1', port: 0, heartbeatMs: 10_000, logger: silentLogger() });
    const { router: ep } = await srv.start();
    const d = new zmq.Dealer({ linger: 0, receiveTimeout: REPLY_MS });
    d.connect(ep);
    const client = new YellowClient({
      endpoints: [ep],
      heartbeatMs: 10_000,
      logger: silentLogger(),
      queryTimeoutMs: REPLY_MS,
    });
    try {
      const methods = Array.from({ length: 100 }, (_, i) => `method${i}`);
      for (let i = 0; i < 100; i++) {
        const reg = {
          role: 'player',
          instanceId: `p${i}`,
          host: '127.0.0.1',
          endpoints: { router: `tcp://127.0.0.1:${5000 + i}` },
          service: {
            thriftService: 'Player',
            methods,
            publicMethods: [],
            idempotentMethods: methods,
            internalMethods: [],
            stateful: false,
          },
          version: '1',
          pid: i,
          startedAt: 1,
          load: { inFlight: 0, elu: 0 },
        };
        await d.send([PROTOCOL_TAG, JSON.stringify({ op: 'register', rid: i, reg })]);
        assert.equal((await receiveJson(d)).ok, true);
      }
      const all = await client.query({ service: 'Player' });
      assert.equal(all.length, 100);
      assert.ok(JSON.stringify(all).length > 128 * 1024);
    } finally {
      d.close();
      await client.stop();
      await srv.stop();
    }
  });
});
