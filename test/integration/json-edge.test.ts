/**
 * Thrift's JSON protocol at the edge, end to end: a real broker, the real sso and player services
 * (PGlite) and a leaderboard; a WebSocket client with subprotocol `thrift-json` writes its calls
 * with the npm `thrift` package's TJSONProtocol. It registers, calls, subscribes and receives a
 * push, all in JSON. Each hostile JSON message gets the answer its compact twin gets from the
 * same cluster (sent over a plain binary WebSocket), the connection survives what a compact one
 * survives, and a well-behaved client on the same broker is answered throughout.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as thrift from 'thrift';
import WebSocket from 'ws';
import { Events, Leaderboard, Player, Sso, SpendRequest, Currency } from '../../shared/protocol';
import { openDb } from '../../shared/data/db';
import { migrate } from '../../shared/data/migrate';
import type { Db } from '../../shared/data/sql';
import { silentLogger } from '../../shared/log';
import { buildMessage, openMessage } from '../../shared/thrift/messages';
import { peekHeader } from '../../shared/thrift/header';
import { createSsoModule } from '../../services/sso/module';
import { playerModule } from '../../services/player/module';
import { lbModule } from '../support/lb-module';
import { startBrokerCluster, type BrokerCluster } from '../support/broker-cluster';
import { exceptionText, JsonWsClient } from '../support/json-ws-client';
import { until } from '../support/wait';

const T = thrift.Thrift.Type;
const M = thrift.Thrift.MessageType;

let db: Db;
let cluster: BrokerCluster;
let wsUrl: string;
let good: JsonWsClient;
let goodCalls = 0;
const goodErrors: string[] = [];
let stopGood = false;
let goodLoop: Promise<void>;

before(async () => {
  db = await openDb({ logger: silentLogger() });
  const sso = createSsoModule({ scryptN: 1024 });
  await migrate(db, 'sso', sso.migrations);
  await migrate(db, 'player', playerModule.migrations);
  cluster = await startBrokerCluster({
    modules: [{ module: sso }, { module: playerModule }, { module: lbModule }],
    db,
    config: { callsPerSecond: 500 },
  });
  wsUrl = cluster.brokers[0]!.endpoints.ws;
  good = await JsonWsClient.connect(wsUrl);
  await until(
    'the broker routes to Leaderboard and Sso',
    async () => {
      const [a, b] = await Promise.all([
        good.call('Leaderboard:top', new Leaderboard.TopArgs({ board: 'b', count: 1 })),
        good.call('Sso:ping', new Sso.PingArgs()),
      ]);
      return a.type === M.REPLY && b.type === M.REPLY;
    },
    20_000,
    50,
  );
  goodLoop = (async () => {
    while (!stopGood) {
      const r = await good
        .call('Leaderboard:top', new Leaderboard.TopArgs({ board: 'b', count: 1 }))
        .catch((e: Error) => e);
      if (r instanceof Error || r.type !== M.REPLY) goodErrors.push(r instanceof Error ? r.message : r.text);
      else goodCalls++;
      await new Promise((res) => setTimeout(res, 20));
    }
  })();
});

after(async () => {
  stopGood = true;
  await goodLoop;
  good?.close();
  await cluster?.stop();
  await db?.close();
});

test('a TJSONProtocol client registers, calls, subscribes and gets a push, all in JSON text', async () => {
  const c = await JsonWsClient.connect(wsUrl);
  assert.equal(c.ws.protocol, 'thrift-json', 'the broker chose the subprotocol');
  const reg = await c.call(
    'Sso:register',
    new Sso.RegisterArgs({ username: 'jay', password: 'pw-jay-12345', clientProtocol: 1 }),
  );
  assert.equal(reg.type, M.REPLY, reg.text);
  const session = Sso.RegisterResult.read(reg.input()).success;
  assert.equal(session?.username, 'jay');
  assert.ok((session?.token?.length ?? 0) > 20);

  const profile = Player.GetProfileResult.read(
    (await c.call('Player:getProfile', new Player.GetProfileArgs())).input(),
  );
  assert.equal(profile.success?.username, 'jay');
  const soft = profile.success?.wallet?.soft?.toNumber() ?? 0;
  assert.ok(soft >= 10, `starter wallet ${soft}`);

  const sub = await c.call('Events:subscribe', new Events.SubscribeArgs({ afterSeq: 0 }));
  assert.equal(Events.SubscribeResult.read(sub.input()).success?.events?.length, 0, sub.text);
  const spend = await c.call(
    'Player:spendCurrency',
    new Player.SpendCurrencyArgs({
      req: new SpendRequest({ idempotencyKey: 'json-1', currency: Currency.SOFT, amount: 10, reason: 'test' }),
    }),
  );
  const wallet = Player.SpendCurrencyResult.read(spend.input()).success;
  assert.equal(wallet?.soft?.toNumber(), soft - 10, spend.text);
  const push = await c.push('Events:walletChanged');
  assert.equal(Events.WalletChangedArgs.read(push.input()).wallet?.soft?.toNumber(), soft - 10);
  assert.equal(c.binaryFrames, 0, 'nothing came back in binary');

  const game = await c.call(
    'Player:spendCurrency',
    new Player.SpendCurrencyArgs({
      req: new SpendRequest({ idempotencyKey: 'json-2', currency: Currency.SOFT, amount: 1_000_000, reason: 'test' }),
    }),
  );
  assert.equal(
    Player.SpendCurrencyResult.read(game.input()).err?.message !== undefined,
    true,
    'a GameError arrives as one',
  );
  c.close();
});

/** A compact client on a plain binary WebSocket: the twin of each hostile JSON message. */
async function compactWs(): Promise<{
  send(b: Buffer): void;
  reply(seqid: number): Promise<Buffer>;
  closed(): boolean;
  ws: WebSocket;
}> {
  const ws = new WebSocket(wsUrl);
  const frames: Buffer[] = [];
  let closed = false;
  ws.on('message', (d) => frames.push(d as Buffer));
  ws.on('close', () => (closed = true));
  ws.on('error', () => undefined);
  await new Promise((r) => ws.once('open', r));
  return {
    ws,
    send: (b) => ws.send(b),
    reply: (seqid) => until(`compact reply ${seqid}`, () => frames.find((f) => peekHeader(f, 64).seqid === seqid)),
    closed: () => closed,
  };
}

/** Leaderboard:top args (board "b", count 1) then `extra`, in compact. */
function topTwin(
  seqid: number,
  extra: (o: thrift.TProtocol) => void,
  board: (o: thrift.TProtocol) => void = stringBoard,
): Buffer {
  return buildMessage('compact', (out) => {
    out.writeMessageBegin('Leaderboard:top', M.CALL, seqid);
    out.writeStructBegin('');
    board(out);
    out.writeFieldBegin('', T.I32, 2);
    out.writeI32(1);
    out.writeFieldEnd();
    extra(out);
    out.writeFieldStop();
    out.writeStructEnd();
    out.writeMessageEnd();
  });
}

function stringBoard(o: thrift.TProtocol, value = 'b'): void {
  o.writeFieldBegin('', T.STRING, 1);
  o.writeString(value);
  o.writeFieldEnd();
}

/** The JSON twin of topTwin: `board` '' leaves field 1 out. */
const topJson = (seqid: number, extra: string, board = '"1":{"str":"b"}'): string =>
  `[1,"Leaderboard:top",1,${seqid},{${[board, '"2":{"i32":1}', extra].filter((f) => f !== '').join(',')}}]`;

const TWINS: { what: string; compact: Buffer; json: string }[] = [
  {
    what: 'structs nested 100 deep',
    compact: topTwin(1, (o) => {
      o.writeFieldBegin('', T.STRUCT, 9);
      for (let i = 0; i < 100; i++) {
        o.writeStructBegin('');
        o.writeFieldBegin('', T.STRUCT, 1);
      }
      o.writeStructBegin('');
      o.writeFieldStop();
      o.writeStructEnd();
      for (let i = 0; i < 100; i++) {
        o.writeFieldEnd();
        o.writeFieldStop();
        o.writeStructEnd();
      }
      o.writeFieldEnd();
    }),
    json: topJson(1, `"9":{"rec":${'{"1":{"rec":'.repeat(100)}{}${'}}'.repeat(100)}}`),
  },
  {
    what: 'a list of 2000 elements',
    compact: topTwin(2, (o) => {
      o.writeFieldBegin('', T.LIST, 9);
      o.writeListBegin(T.BYTE, 2000);
      for (let i = 0; i < 2000; i++) o.writeByte(1);
      o.writeListEnd();
      o.writeFieldEnd();
    }),
    json: topJson(2, `"9":{"lst":["i8",2000,${Array(2000).fill(1).join(',')}]}`),
  },
  {
    what: 'a 10,000-byte string',
    compact: topTwin(
      3,
      (o) => stringBoard(o, 'a'.repeat(10_000)),
      () => undefined,
    ),
    json: topJson(3, `"1":{"str":"${'a'.repeat(10_000)}"}`, ''),
  },
  {
    what: 'an i32 where the string board goes',
    compact: topTwin(
      4,
      () => undefined,
      (o) => {
        o.writeFieldBegin('', T.I32, 1);
        o.writeI32(5);
        o.writeFieldEnd();
      },
    ),
    json: topJson(4, '', '"1":{"i32":5}'),
  },
  {
    what: 'a NUL in a string',
    compact: topTwin(
      5,
      () => undefined,
      (o) => stringBoard(o, 'a\u0000b'),
    ),
    json: topJson(5, '', '"1":{"str":"a\\u0000b"}'),
  },
];

for (const c of TWINS) {
  test(`hostile JSON, ${c.what}: the same answer as its compact twin, and the connection stays`, async () => {
    const j = await JsonWsClient.connect(wsUrl);
    const b = await compactWs();
    const seqid = peekHeader(c.compact, 64).seqid;
    b.send(c.compact);
    j.sendText(c.json);
    const twin = await b.reply(seqid);
    const mine = await j.replyTo(seqid);
    assert.equal(peekHeader(twin, 64).type, M.EXCEPTION);
    assert.equal(mine.type, M.EXCEPTION, mine.text);
    const { input } = openMessage(twin, { maxString: 1 << 16, maxContainer: 100, maxDepth: 8 });
    input.readMessageBegin();
    const twinText = exceptionText(input);
    assert.ok(twinText.length > 0);
    assert.equal(exceptionText(mine.input()), twinText);
    assert.equal(j.closed, false);
    assert.equal(b.closed(), false);
    j.close();
    b.ws.terminate();
  });
}

test('hostile JSON without a twin: huge numbers, wrong JSON types, __proto__, a cut-off body are BAD_REQUEST', async () => {
  const j = await JsonWsClient.connect(wsUrl);
  const cases: [string, RegExp][] = [
    [
      topJson(11, '"2":{"i32":99999999999}'),
      /^BAD_REQUEST: args\.2: the number 99999999999 is out of range for an i32/,
    ],
    [
      topJson(12, `"7":{"i64":${'9'.repeat(400)}}`),
      /^BAD_REQUEST: args\.7: the number 9{40}… is out of range for an i64/,
    ],
    [topJson(13, '"7":{"dbl":1e999}'), /^BAD_REQUEST: args\.7: the number 1e999 is out of range for a dbl/],
    [topJson(14, '"__proto__":{"i32":1}'), /^BAD_REQUEST: args: field id "__proto__" is not an i16 number/],
    [topJson(15, '"2":{"i32":"1"}'), /^BAD_REQUEST: args\.2: expected a whole number for an i32, got a string/],
    ['[1,"Leaderboard:top",1,16,{"1":{"str":"b', /^BAD_REQUEST: malformed JSON: unterminated string/],
  ];
  for (const [text, expected] of cases) {
    const seqid = Number(/^\[1,"Leaderboard:top",1,(\d+)/.exec(text)?.[1]);
    j.sendText(text);
    const r = await j.replyTo(seqid);
    assert.equal(r.type, M.EXCEPTION);
    assert.match(exceptionText(r.input()), expected);
  }
  // a __proto__ map key is just a key: the call is answered and nothing is polluted
  j.sendText(topJson(17, '"9":{"map":["str","str",2,{"__proto__":"polluted","constructor":"polluted"}]}'));
  assert.equal((await j.replyTo(17)).type, M.REPLY);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(j.closed, false, 'refused calls are answers, not disconnects');
  j.close();
});

test('an unreadable header closes the connection, as its compact twin does; so do a binary frame and an oversized one', async () => {
  for (const send of [
    (j: JsonWsClient) => j.sendText('hello'),
    (j: JsonWsClient) => j.sendText('[1,"Leaderboard:top",2,1,{}]'), // a REPLY from a client
    (j: JsonWsClient) => j.ws.send(Buffer.from('[1,"Leaderboard:top",1,1,{}]')),
    (j: JsonWsClient) => j.sendText(topJson(1, `"9":{"str":"${'a'.repeat(20_000)}"}`)), // over maxFrame (16 KiB)
  ]) {
    const j = await JsonWsClient.connect(wsUrl);
    send(j);
    await until('the broker closes the connection', () => j.closed, 5000);
  }
  const b = await compactWs();
  b.send(Buffer.from('hello'));
  await until('the compact twin is closed too', () => b.closed(), 5000);
});

test('a client that does not ask for thrift-json keeps binary frames', async () => {
  const b = await compactWs();
  assert.equal(b.ws.protocol, '');
  b.send(
    buildMessage('compact', (out) => {
      out.writeMessageBegin('Leaderboard:top', M.CALL, 3);
      new Leaderboard.TopArgs({ board: 'b', count: 1 }).write(out);
      out.writeMessageEnd();
    }),
  );
  assert.equal(peekHeader(await b.reply(3), 64).type, M.REPLY);
  b.ws.terminate();
});

test('the broker stayed up and the well-behaved JSON client was answered throughout', async () => {
  const before = goodCalls;
  await until('more good calls', () => goodCalls > before + 2, 5000);
  assert.deepEqual(goodErrors, []);
});
