import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as thrift from 'thrift';
import { Leaderboard } from '../../shared/protocol';
import { buildMessage } from '../../shared/thrift/messages';
import { peekHeader } from '../../shared/thrift/header';
import { lbModule } from '../support/lb-module';
import { fakeSso } from '../support/broker-fakes';
import { startBrokerCluster, type BrokerCluster } from '../support/broker-cluster';
import { rawClient, type RawClient } from '../support/raw-client';
import { rawSocket } from '../support/raw-socket';
import { FrameDecoder } from '../../edge/framing';
import { until, within } from '../support/wait';

let cluster: BrokerCluster;
let tcp: string;
let good: RawClient;
let goodCalls = 0;
const goodErrors: string[] = [];
let stopGood = false;
let goodLoop: Promise<void>;

/** A Leaderboard:top call whose args struct carries `extra` as unknown field 9 (compact). */
function topCallWith(extra: (out: thrift.TProtocol) => void, seqid = 1): Buffer {
  return buildMessage('compact', (out) => {
    out.writeMessageBegin('Leaderboard:top', thrift.Thrift.MessageType.CALL, seqid);
    out.writeStructBegin('args');
    out.writeFieldBegin('board', thrift.Thrift.Type.STRING, 1);
    out.writeString('b');
    out.writeFieldEnd();
    out.writeFieldBegin('count', thrift.Thrift.Type.I32, 2);
    out.writeI32(1);
    out.writeFieldEnd();
    extra(out);
    out.writeFieldStop();
    out.writeStructEnd();
    out.writeMessageEnd();
  });
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** The reply frame for `seqid` as [type, message]: type 3 = EXCEPTION. */
async function replyTo(s: { frames: Buffer[] }, seqid: number): Promise<{ type: number; text: string }> {
  await until(`reply ${seqid}`, () => s.frames.some((f) => peekHeader(f, 64).seqid === seqid), 5000);
  const f = s.frames.find((x) => peekHeader(x, 64).seqid === seqid) as Buffer;
  return { type: peekHeader(f, 64).type, text: f.toString('latin1') };
}

before(async () => {
  cluster = await startBrokerCluster({
    modules: [{ module: fakeSso }, { module: lbModule }],
    config: { handshakeTimeoutMs: 300, callsPerSecond: 200, maxConnectionsPerIp: 5000 },
  });
  tcp = cluster.brokers[0]!.endpoints.tcp;
  good = await rawClient(tcp);
  await until('broker routes to Leaderboard', async () =>
    good.leaderboard.top('b', 1).then(
      () => true,
      () => false,
    ),
  );
  await good.sso.login('good', 'pw-good');
  goodLoop = (async () => {
    while (!stopGood) {
      try {
        assert.equal((await good.leaderboard.top('b', 1)).length, 1);
        goodCalls++;
      } catch (err) {
        goodErrors.push(String(err));
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
});

after(async () => {
  stopGood = true;
  await goodLoop;
  good?.close();
  await cluster?.stop();
});

test('a length prefix of 2^31, of -1 (0xFFFFFFFF), of 0 and of the limit + 1 closes the connection before buffering', async () => {
  for (const len of [0x80000000, 0xffffffff, 0, 16385]) {
    const s = await rawSocket(tcp);
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(len);
    s.socket.write(prefix);
    await within(s.closed, 2000, `close after length ${len}`);
  }
});

test('random bytes, a header whose name claims 100 MB, a REPLY sent by a client: closed', async () => {
  let seed = 7;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const bodies = [
    Buffer.from(Array.from({ length: 200 }, rand)),
    Buffer.from([0x82, 0x21, 0x01, ...varint(100_000_000), 0x41, 0x42]),
    Buffer.from([0x80, 0x01, 0x00, 0x02, 0, 0, 0, 1, 0x61, 0, 0, 0, 1, 0]),
  ];
  for (const body of bodies) {
    const s = await rawSocket(tcp);
    s.sendFrame(body);
    await within(s.closed, 2000, 'close after a malformed frame');
  }
});

test('a truncated frame (length says 100, 10 bytes come) is closed by the handshake deadline', async () => {
  const s = await rawSocket(tcp);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(100);
  s.socket.write(Buffer.concat([prefix, Buffer.alloc(10, 0x82)]));
  await within(s.closed, 3000, 'close of a never-completed frame');
});

test('a list header claiming 2^31 elements and a full frame of one-byte elements are refused by the decoder caps', async () => {
  const s = await rawSocket(tcp);
  const before = process.memoryUsage().heapUsed;
  s.sendFrame(
    topCallWith((out) => {
      out.writeFieldBegin('x', thrift.Thrift.Type.LIST, 9);
      (out as unknown as { trans: { write(b: Buffer): void } }).trans.write(
        Buffer.from([0xf3, ...varint(2 ** 31 - 1)]),
      );
    }, 11),
  );
  const n = 16_000;
  s.sendFrame(
    topCallWith((out) => {
      out.writeFieldBegin('x', thrift.Thrift.Type.LIST, 9);
      out.writeListBegin(thrift.Thrift.Type.BYTE, n);
      for (let i = 0; i < n; i++) out.writeByte(1);
    }, 12),
  );
  const a = await replyTo(s, 11);
  const b = await replyTo(s, 12);
  assert.equal(a.type, 3);
  assert.match(a.text, /exceeds/);
  assert.equal(b.type, 3);
  assert.match(b.text, /list of 16000 elements exceeds the limit 1024/);
  assert.ok(process.memoryUsage().heapUsed - before < 16 * 1024 * 1024, 'memory stayed bounded');
  assert.equal(s.isClosed(), false, 'a decode error in a service is an error reply, not a disconnect');
  s.socket.destroy();
});

test('a map with a __proto__ key pollutes nothing', async () => {
  const s = await rawSocket(tcp);
  s.sendFrame(
    topCallWith((out) => {
      out.writeFieldBegin('x', thrift.Thrift.Type.MAP, 9);
      out.writeMapBegin(thrift.Thrift.Type.STRING, thrift.Thrift.Type.STRING, 2);
      out.writeString('__proto__');
      out.writeString('polluted');
      out.writeString('constructor');
      out.writeString('polluted');
      out.writeMapEnd();
    }, 21),
  );
  const r = await replyTo(s, 21);
  assert.equal(r.type, 2, 'the call itself is answered');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf({}), Object.prototype);
  s.socket.destroy();
});

test('unknown methods: an error each, closed at the third strike; an anonymous connection at once', async () => {
  const unknown = (seqid: number): Buffer =>
    buildMessage('compact', (out) => {
      out.writeMessageBegin('Nope:nothing', thrift.Thrift.MessageType.CALL, seqid);
      out.writeStructBegin('a');
      out.writeFieldStop();
      out.writeStructEnd();
      out.writeMessageEnd();
    });
  await until(
    'broker past its warm-up (unknown services are UNAVAILABLE until then)',
    () => !cluster.brokers[0]!.broker.warmingUp,
    5000,
  );
  const c = await rawClient(tcp);
  await c.sso.login('eve', 'pw-eve');
  const s = { frames: [] as Buffer[] };
  c.socket.removeAllListeners('data');

  const dec = new FrameDecoder(1 << 20);
  c.socket.on('data', (d: Buffer) => s.frames.push(...dec.push(d)));
  for (const seq of [31, 32]) {
    const len = Buffer.alloc(4);
    const body = unknown(seq);
    len.writeUInt32BE(body.length);
    c.socket.write(Buffer.concat([len, body]));
    const r = await replyTo(s, seq);
    assert.equal(r.type, 3);
    assert.match(r.text, /UNKNOWN_METHOD: Nope:nothing: no service Nope runs in this cluster/);
  }
  const len = Buffer.alloc(4);
  const body = unknown(33);
  len.writeUInt32BE(body.length);
  c.socket.write(Buffer.concat([len, body]));
  await within(c.closed, 2000, 'close at the third strike');
  // The closing strike's reply is flushed before the close: the client learns why.
  assert.match((await replyTo(s, 33)).text, /UNKNOWN_METHOD: Nope:nothing: no service Nope runs in this cluster/);
  const anon = await rawSocket(tcp);
  anon.sendFrame(unknown(1));
  await within(anon.closed, 2000, 'close of an anonymous connection calling an unknown method');
  assert.equal(anon.frames.length, 1, 'the anonymous connection got its error reply before the close');
  assert.match(
    anon.frames[0]!.toString('latin1'),
    /UNKNOWN_METHOD: Nope:nothing: no service Nope runs in this cluster/,
  );
});

test('a call before login gets UNAUTHENTICATED', async () => {
  const c = await rawClient(tcp);
  await assert.rejects(c.leaderboard.myRank('b'), /^Error: UNAUTHENTICATED|UNAUTHENTICATED: log in/);
  c.close();
});

test('10,000 calls/s from one connection: refused by the rate limit, then cut off', async () => {
  const s = await rawSocket(tcp);
  const frames: Buffer[] = [];
  for (let i = 1; i <= 10_000; i++) {
    const body = buildMessage('compact', (out) => {
      out.writeMessageBegin('Leaderboard:top', thrift.Thrift.MessageType.CALL, i);
      new Leaderboard.TopArgs({ board: 'b', count: 1 }).write(out);
      out.writeMessageEnd();
    });
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    frames.push(len, body);
  }
  s.socket.write(Buffer.concat(frames));
  await within(s.closed, 5000, 'flooding connection cut off');
  const drops = await cluster.brokers[0]!.broker.metrics.registry.getSingleMetricAsString('noon_dropped_total');
  assert.match(drops, /reason="rate_limited"[^\n]* (\d{3,})/, 'hundreds of calls were refused by the rate limit');
  assert.match(drops, /reason="flood"[^\n]* 1\b/, 'the connection was cut as a flood');
  assert.ok(s.frames.length < 10_000, 'not every call was served');
});

test('1,000 connections that never send are all closed by the handshake deadline', async () => {
  const socks = await Promise.all(Array.from({ length: 1000 }, () => rawSocket(tcp)));
  await within(Promise.all(socks.map((s) => s.closed)), 10_000, 'every silent connection closed');
  await until('broker forgot them', () => cluster.brokers[0]!.broker.connections <= 2, 3000);
});

test('the well-behaved client kept getting answers throughout', () => {
  assert.deepEqual(goodErrors, []);
  assert.ok(goodCalls > 20, `only ${goodCalls} good calls`);
});
