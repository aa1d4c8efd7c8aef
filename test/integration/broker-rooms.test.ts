import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Int64 from 'node-int64';
import { Events } from '../../shared/protocol';
import { NoonClient } from '../../client';
import { burstChat, fakeSso } from '../support/broker-fakes';
import { startBrokerCluster, type BrokerCluster } from '../support/broker-cluster';
import { decodePush, rawClient } from '../support/raw-client';
import { until } from '../support/wait';

let cluster: BrokerCluster;
let tcp: string;

before(async () => {
  cluster = await startBrokerCluster({
    modules: [{ module: fakeSso }, { module: burstChat }],
    config: { outboundQueue: 64, outboundBytes: 1_048_576, outboundGraceMs: 500, callsPerSecond: 10_000 },
  });
  tcp = cluster.brokers[0]!.endpoints.tcp;
  const c = await rawClient(tcp);
  await until('broker routes to Chat', async () =>
    c.chat.ping().then(
      () => true,
      () => false,
    ),
  );
  c.close();
});
after(() => cluster?.stop());

test('a member that stops reading is cut off; the other receives every message in order without waiting', async () => {
  const fast = await rawClient(tcp);
  const slow = await rawClient(tcp);
  await fast.sso.login('fast', 'pw-fast');
  await slow.sso.login('slow', 'pw-slow');
  await fast.chat.join('lobby');
  await slow.chat.join('lobby');
  slow.socket.pause(); // stops reading: the broker's writes to it back up
  const N = 1000; // 1000 x 8 KiB: more than the kernel buffers (~4 MB) of a paused loopback socket
  const started = Date.now();
  await fast.chat.say('lobby', `burst:${N}`);
  await until('the fast member got every message', () => fast.pushes.length >= N, 20_000);
  const elapsed = Date.now() - started;
  const seqs = fast.pushes.map((p) => Number(decodePush(p.bytes, Events.ChatMessageArgs).message?.seq?.toString()));
  assert.deepEqual(
    seqs,
    Array.from({ length: N }, (_, i) => i + 1),
    'total order, no gaps',
  );
  const drops = async (): Promise<string> =>
    cluster.brokers[0]!.broker.metrics.registry.getSingleMetricAsString('noon_dropped_total');
  await until(
    'the slow member was cut off',
    async () => /reason="slow_consumer"[^\n]* 1\b/.test(await drops()),
    10_000,
  );
  assert.ok(elapsed < 15_000, `fast member delayed ${elapsed} ms`);
  fast.close();
  slow.close();
});

test('a client on the WebSocket listener logs in, calls, and gets room messages', async () => {
  const ws = await NoonClient.connect({ ws: cluster.brokers[0]!.endpoints.ws }, { reconnect: false });
  try {
    await ws.sso.login('wsuser', 'pw-wsuser');
    const got: number[] = [];
    ws.on('chatMessage', (m) => got.push(Number(m.seq?.toString())));
    const snap = await ws.chat.join('ws-room');
    await ws.chat.say('ws-room', 'burst:3');
    await until('three room messages over WebSocket', () => got.length >= 3, 5000);
    assert.deepEqual(
      got,
      [1, 2, 3].map((n) => n + Number(snap.lastSeq?.toString() ?? 0)),
    );
  } finally {
    ws.close();
  }
});

test('a binary-protocol client gets pushes transcoded to binary', async () => {
  const c = await rawClient(tcp, 'binary');
  try {
    await c.sso.login('bin', 'pw-bin');
    await c.chat.join('bin-room');
    await c.chat.say('bin-room', 'burst:2');
    await until('two pushes', () => c.pushes.length >= 2, 5000);
    for (const p of c.pushes) assert.equal(p.bytes[0], 0x80, 'binary protocol');
    assert.equal(Number(decodePush(c.pushes[1]!.bytes, Events.ChatMessageArgs).message?.seq?.toString()), 2);
  } finally {
    c.close();
  }
});

test('a member whose Events:subscribe has not arrived yet skips room messages but stays in its room', async () => {
  // The window a resume opens: the session (and its rooms) is back before the client asks for pushes.
  const late = await rawClient(tcp, 'compact', { subscribe: false });
  const talker = await rawClient(tcp);
  try {
    await late.sso.login('late', 'pw-late');
    await talker.sso.login('talker', 'pw-talker');
    await late.chat.join('late-room');
    await talker.chat.join('late-room');
    await talker.chat.say('late-room', 'burst:1');
    await until('the talker got the first message', () => talker.pushes.length >= 1, 5000);
    assert.equal(late.pushes.length, 0, 'no ONEWAY to a client that did not ask for pushes');
    await late.events.subscribe(new Int64(0));
    await talker.chat.say('late-room', 'burst:1');
    await until('the late member gets the next message', () => late.pushes.length >= 1, 5000);
    assert.equal(late.pushes[0]?.name, 'Events:chatMessage');
  } finally {
    late.close();
    talker.close();
  }
});
