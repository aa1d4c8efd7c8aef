/**
 * The Thrift JSON translator, table-driven: calls written by the npm `thrift` package's
 * TJSONProtocol become the exact compact bytes the generated code writes; replies and pushes in
 * compact become JSON that TJSONProtocol reads back into equal structs (i64 exact, binary as
 * base64, map<string,bool>); hostile JSON is refused by a header error, a cap in a service's own
 * words, or BAD_REQUEST, never a crash, and `__proto__` pollutes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as thrift from 'thrift';
import Int64 from 'node-int64';
import {
  Duel,
  DuelAction,
  DuelActRequest,
  DuelPhase,
  DuelState,
  ErrorCode,
  Events,
  GameError,
  Leaderboard,
  Player,
  PushBatch,
  PushEvent,
  Sso,
  Unit,
  Wallet,
} from '../../shared/protocol';
import { buildMessage, applicationException } from '../../shared/thrift/messages';
import { builtinShapes, IdlShapes, PLAIN } from '../../shared/thrift/idl-shapes';
import { jsonToCompact, JsonHeaderError, type JsonCall } from '../../shared/thrift/json-in';
import { thriftToJson } from '../../shared/thrift/json-out';
import { ThriftJsonCodec } from '../../edge/thrift-json';

const M = thrift.Thrift.MessageType;
const CAPS = { maxString: 8192, maxContainer: 1024, maxDepth: 16 };
const REPLY_CAPS = { maxString: 1 << 20, maxContainer: 100_000, maxDepth: 32 };
const shapes = builtinShapes();

interface Writable {
  write(out: thrift.TProtocol): void;
}

/** What the npm package's TJSONProtocol writes for one message. */
function npmJson(name: string, type: thrift.Thrift.MessageType, seqid: number, body: Writable): string {
  let text = '';
  const trans = { write: (s: string | Buffer) => (text += s.toString()), flush: () => undefined };
  const p = new thrift.TJSONProtocol(trans as unknown as thrift.TTransport);
  p.writeMessageBegin(name, type, seqid);
  body.write(p);
  p.writeMessageEnd();
  return text;
}

/** The npm package's TJSONProtocol reading `text`: the header and the input for the body. */
function npmRead(text: string): { header: thrift.TMessage; input: thrift.TProtocol } {
  const input = new thrift.TJSONProtocol(new thrift.TFramedTransport(Buffer.from(text)));
  return { header: input.readMessageBegin(), input };
}

function compact(name: string, type: thrift.Thrift.MessageType, seqid: number, body: Writable): Buffer {
  return buildMessage('compact', (out) => {
    out.writeMessageBegin(name, type, seqid);
    body.write(out);
    out.writeMessageEnd();
  });
}

function toCompact(text: string): JsonCall {
  return jsonToCompact(text, CAPS, 64, (h) => shapes.args(h.name));
}

const CALLS: { name: string; args: Writable }[] = [
  {
    name: 'Sso:register',
    args: new Sso.RegisterArgs({ username: 'ann', password: 'pw "quoted" \\ é 😀', clientProtocol: 1 }),
  },
  { name: 'Player:getProfile', args: new Player.GetProfileArgs() },
  {
    name: 'Leaderboard:report',
    args: new Leaderboard.ReportArgs({
      board: 'b',
      userId: 'u',
      username: 'n',
      delta: new Int64('8000000000000001'), // -(2^63 - 1): far from any safe double
      idempotencyKey: 'k',
    }),
  },
  { name: 'Duel:act', args: new Duel.ActArgs({ req: new DuelActRequest({ duelId: 'd1', action: DuelAction.SHOOT }) }) },
  { name: 'Events:poll', args: new Events.PollArgs({ afterSeq: 5, max: 10 }) },
];

for (const c of CALLS) {
  test(`a ${c.name} call from TJSONProtocol becomes the generated code's exact compact bytes`, () => {
    const r = toCompact(npmJson(c.name, M.CALL, 42, c.args));
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    assert.deepEqual(r.header, { protocol: 'compact', name: c.name, type: M.CALL, seqid: 42 });
    assert.deepEqual(r.bytes, compact(c.name, M.CALL, 42, c.args));
  });
}

const eq = (a: unknown, b: unknown): void =>
  assert.deepEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));

const OUT: {
  what: string;
  name: string;
  type: thrift.Thrift.MessageType;
  shapeName?: string;
  body: Writable;
  read: (i: thrift.TProtocol) => unknown;
  check?: (json: string) => void;
}[] = [
  {
    what: 'a list<Unit> reply',
    name: 'listUnits',
    type: M.REPLY,
    shapeName: 'Player:listUnits',
    body: new Player.ListUnitsResult({ success: [new Unit({ unitId: 'u1', kind: 'k', level: 3, stars: 1 })] }),
    read: (i) => Player.ListUnitsResult.read(i),
  },
  {
    what: 'an i64 at its maximum',
    name: 'getWallet',
    type: M.REPLY,
    body: new Player.GetWalletResult({ success: new Wallet({ soft: new Int64('7fffffffffffffff'), hard: -1 }) }),
    read: (i) => Player.GetWalletResult.read(i),
    check: (json) => assert.match(json, /"1":\{"i64":9223372036854775807\}/),
  },
  {
    what: 'a declared GameError',
    name: 'getWallet',
    type: M.REPLY,
    body: new Player.GetWalletResult({
      err: new GameError({ code: ErrorCode.BUSY, message: 'busy', retryable: true }),
    }),
    read: (i) => Player.GetWalletResult.read(i),
  },
  {
    what: 'a push with a map<string,bool>',
    name: 'Events:duelUpdated',
    type: M.ONEWAY,
    body: new Events.DuelUpdatedArgs({
      state: new DuelState({
        duelId: 'd',
        phase: DuelPhase.ACTIVE,
        players: ['a', 'b'],
        drawn: new Map([
          ['a', true],
          ['b', false],
        ]),
        stake: 5,
      }),
    }),
    read: (i) => Events.DuelUpdatedArgs.read(i),
    check: (json) => assert.match(json, /\["str","tf",2,\{"a":1,"b":0\}\]/),
  },
  {
    what: 'a binary field (PushEvent.message) as base64',
    name: 'poll',
    type: M.REPLY,
    shapeName: 'Events:poll',
    body: new Events.PollResult({
      success: new PushBatch({
        events: [new PushEvent({ seq: 1, name: 'Events:kicked', message: Buffer.from([0x82, 0x81, 0, 0xff]) })],
        lastSeq: 1,
      }),
    }),
    read: (i) => Events.PollResult.read(i),
    check: (json) => assert.match(json, /"3":\{"str":"goEA\/w=="\}/),
  },
];

for (const c of OUT) {
  test(`${c.what} in compact becomes JSON that TJSONProtocol reads back equal`, () => {
    const bytes = compact(c.name, c.type, 9, c.body);
    const json = thriftToJson(bytes, REPLY_CAPS, (name, type) =>
      type === M.ONEWAY ? shapes.args(name) : type === M.REPLY ? shapes.result(c.shapeName ?? `Player:${name}`) : PLAIN,
    );
    JSON.parse(json); // valid JSON throughout
    c.check?.(json);
    const { header, input } = npmRead(json);
    assert.deepEqual([header.fname, header.mtype, header.rseqid], [c.name, c.type, 9]);
    eq(c.read(input), c.body);
  });
}

test('a TApplicationException and a non-finite double become JSON', () => {
  const ex = applicationException(
    'compact',
    'Player:grant',
    3,
    thrift.Thrift.TApplicationExceptionType.UNKNOWN,
    'BUSY: "x"\n',
  );
  const json = thriftToJson(ex, REPLY_CAPS, () => PLAIN);
  assert.equal(json, '[1,"Player:grant",3,3,{"1":{"str":"BUSY: \\"x\\"\\n"},"2":{"i32":0}}]');
  const dbl = buildMessage('binary', (out) => {
    out.writeMessageBegin('x', M.ONEWAY, 0);
    out.writeStructBegin('');
    out.writeFieldBegin('', thrift.Thrift.Type.DOUBLE, 1);
    out.writeDouble(Number.NEGATIVE_INFINITY);
    out.writeFieldEnd();
    out.writeFieldStop();
    out.writeStructEnd();
    out.writeMessageEnd();
  });
  assert.equal(
    thriftToJson(dbl, REPLY_CAPS, () => PLAIN),
    '[1,"x",4,0,{"1":{"dbl":"-Infinity"}}]',
  );
});

const nested = (n: number): string => '{"1":{"rec":'.repeat(n) + '{}' + '}}'.repeat(n);
const call = (body: string, seqid = 7): string => `[1,"Leaderboard:top",1,${seqid},${body}]`;
const HOSTILE: { what: string; text: string; header?: RegExp; cap?: RegExp; bad?: RegExp }[] = [
  { what: 'not JSON', text: 'hello', header: /header does not read/ },
  { what: 'an empty message', text: '', header: /header does not read/ },
  { what: 'version 2', text: '[2,"Leaderboard:top",1,0,{}]', header: /version must be 1/ },
  { what: 'a seqid of 2^31', text: '[1,"Leaderboard:top",1,2147483648,{}]', header: /seqid/ },
  { what: 'a name past the limit', text: `[1,"${'x'.repeat(65)}",1,0,{}]`, header: /exceeds the limit 64/ },
  { what: 'a header nested 10^5 deep', text: '['.repeat(100_000), header: /header does not read/ },
  { what: 'structs nested 17 deep', text: call(nested(16)), cap: /^nesting deeper than 16$/ },
  { what: 'JSON nested 10^5 deep', text: call('{"1":{"lst":'.repeat(50_000)), cap: /^nesting deeper than 16$/ },
  {
    what: 'a list of 2000 elements',
    text: call(`{"9":{"lst":["i8",2000,${Array(2000).fill(1).join(',')}]}}`),
    cap: /^list of 2000 elements exceeds the limit 1024$/,
  },
  {
    what: 'a list claiming 2^31 elements',
    text: call('{"9":{"lst":["i8",2147483648]}}'),
    cap: /^list of 2147483648 elements exceeds the limit 1024$/,
  },
  {
    what: 'a 10,000-byte string',
    text: call(`{"1":{"str":"${'a'.repeat(10_000)}"}}`),
    cap: /^string of 10000 bytes exceeds the limit 8192$/,
  },
  {
    what: 'an i32 of 10^11',
    text: call('{"2":{"i32":99999999999}}'),
    bad: /args\.2: the number 99999999999 is out of range for an i32/,
  },
  { what: 'an i64 of 10^30', text: call(`{"2":{"i64":1${'0'.repeat(30)}}}`), bad: /out of range for an i64/ },
  { what: 'an i64 of 1.5', text: call('{"2":{"i64":1.5}}'), bad: /expected a whole number for an i64/ },
  { what: 'a dbl of 1e400', text: call('{"2":{"dbl":1e400}}'), bad: /out of range for a dbl/ },
  {
    what: 'a string where an i32 goes',
    text: call('{"2":{"i32":"5"}}'),
    bad: /expected a whole number for an i32, got a string/,
  },
  {
    what: 'a field id __proto__',
    text: call('{"__proto__":{"i32":1}}'),
    bad: /field id "__proto__" is not an i16 number/,
  },
  {
    what: 'a type tag __proto__',
    text: call('{"1":{"__proto__":1}}'),
    bad: /"__proto__" is not a Thrift JSON type tag/,
  },
  { what: 'a field of two members', text: call('{"1":{"i32":1,"str":"a"}}'), bad: /an object of one member/ },
  { what: 'a list whose count lies', text: call('{"9":{"lst":["i32",3,1,2]}}'), bad: /says 3 elements and has 2/ },
  {
    what: 'a body cut off',
    text: '[1,"Leaderboard:top",1,7,{"1":{"str":"b',
    bad: /malformed JSON: unterminated string/,
  },
  { what: 'no body', text: '[1,"Leaderboard:top",1,7]', bad: /malformed JSON: expected ','/ },
  { what: 'trailing text', text: `${call('{}')} x`, bad: /expected the end of the message/ },
];

for (const c of HOSTILE) {
  test(`hostile JSON: ${c.what}`, () => {
    if (c.header) {
      assert.throws(
        () => toCompact(c.text),
        (e: unknown) => e instanceof JsonHeaderError && (c.header as RegExp).test(e.message),
      );
      return;
    }
    const r = toCompact(c.text);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.header.seqid, 7, 'the refusal is answered to the call');
    assert.equal(r.error.cap, c.cap !== undefined, r.error.message);
    assert.match(r.error.message, (c.cap ?? c.bad) as RegExp);
  });
}

test('a map key __proto__ is a key, a lone surrogate stays invalid UTF-8 for the service to refuse', () => {
  const r = toCompact(call('{"1":{"str":"\\ud800"},"9":{"map":["str","str",1,{"__proto__":"polluted"}]}}'));
  assert.ok(r.ok);
  assert.ok(r.bytes.includes(Buffer.from([0xed, 0xa0, 0x80])), 'WTF-8 bytes of the lone surrogate');
  assert.ok(r.bytes.includes(Buffer.from('__proto__')));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('a binary argument is base64 in JSON and raw bytes in compact', () => {
  const poll = {
    returns: 'void',
    oneway: false,
    args: [{ id: 1, name: 'b', type: 'binary', required: 'default' as const }],
    throws: [],
  };
  const binaryShapes = new IdlShapes([
    {
      enums: new Map(),
      structs: new Map(),
      services: new Map([['Events', { extends: undefined, functions: new Map([['poll', poll]]) }]]),
    },
  ]);
  const r = jsonToCompact('[1,"Events:poll",1,1,{"1":{"str":"AAEC"}}]', CAPS, 64, (h) => binaryShapes.args(h.name));
  assert.ok(r.ok);
  assert.ok(r.bytes.includes(Buffer.from([0x03, 0x00, 0x01, 0x02])), 'length 3, then the decoded bytes');
  const notBase64 = jsonToCompact('[1,"Events:poll",1,1,{"1":{"str":"!!"}}]', CAPS, 64, (h) =>
    binaryShapes.args(h.name),
  );
  assert.ok(!notBase64.ok && /must be base64/.test(notBase64.error.message));
});

test('the codec finds a reply shape by the seqid of its call, so PushEvent.message comes back as base64', () => {
  const limits = { ...CAPS, maxMethodName: 64, maxInFlight: 4 };
  const reply = compact(
    'poll',
    M.REPLY,
    5,
    new Events.PollResult({
      success: new PushBatch({
        events: [new PushEvent({ seq: 1, name: 'Events:kicked', message: Buffer.from([0xff]) })],
      }),
    }),
  );
  const withCall = new ThriftJsonCodec(shapes, limits);
  assert.ok(withCall.fromClient(Buffer.from(npmJson('Events:poll', M.CALL, 5, new Events.PollArgs()))).ok);
  assert.match(String(withCall.toClient(reply)), /"3":\{"str":"\/w=="\}/);
  // without the call, the bare reply name says nothing about binary: the bytes go as text
  assert.doesNotMatch(String(new ThriftJsonCodec(shapes, limits).toClient(reply)), /"\/w=="/);
});

test('a reply over the reply caps becomes an INTERNAL exception to its seqid; such a push is dropped', () => {
  const codec = new ThriftJsonCodec(shapes, { ...CAPS, maxMethodName: 64, maxInFlight: 4 });
  const big = 'x'.repeat((1 << 20) + 1);
  const reply = compact('getProfile', M.REPLY, 8, new Sso.RegisterArgs({ username: big, password: 'p' }));
  const json = String(codec.toClient(reply));
  assert.match(
    json,
    /^\[1,"getProfile",3,8,\{"1":\{"str":"INTERNAL: the reply could not be written as Thrift JSON \(binary of 1048577 bytes exceeds/,
  );
  assert.equal(
    codec.toClient(compact('Events:kicked', M.ONEWAY, 0, new Events.KickedArgs({ reason: big }))),
    undefined,
  );
});
