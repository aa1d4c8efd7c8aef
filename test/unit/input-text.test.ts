/**
 * Text a database cannot store (a NUL, bytes that are not UTF-8) is refused where a request is
 * decoded under `strictText`: BAD_REQUEST before any handler runs, in compact and binary alike;
 * `binary` fields and decoding without `strictText` are not affected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as thrift from 'thrift';
import { Currency, Player, SpendRequest, Sso, type Session } from '../../shared/protocol';
import { textBytesProblem, textProblem } from '../../shared/input';
import { BadTextError, DEFAULT_CAPS } from '../../shared/thrift/capped';
import { bufferTransport } from '../../shared/thrift/fast-write';
import { buildMessage, demultiplexed, openMessage, protocolClass } from '../../shared/thrift/messages';
import type { ThriftProtocol } from '../../shared/thrift/header';

const STRICT = { ...DEFAULT_CAPS, strictText: true };

test('textBytesProblem: NUL and invalid UTF-8 (encoded surrogates, overlong forms) are refused', () => {
  const ok = ['', 'plain', 'héllo wörld', '日本語', '😀 emoji', '\uFFFD'];
  for (const s of ok) assert.equal(textBytesProblem(Buffer.from(s, 'utf8')), undefined, s);
  const bad: [string, number[], string][] = [
    ['NUL', [0x61, 0x00, 0x62], 'contains a NUL character'],
    ['lone byte 0xff', [0x61, 0xff], 'is not valid UTF-8'],
    ['UTF-8-encoded high surrogate U+D800', [0xed, 0xa0, 0x80], 'is not valid UTF-8'],
    ['UTF-8-encoded low surrogate U+DC00', [0xed, 0xb0, 0x80], 'is not valid UTF-8'],
    ['overlong NUL', [0xc0, 0x80], 'is not valid UTF-8'],
    ['truncated sequence', [0xe6, 0x97], 'is not valid UTF-8'],
  ];
  for (const [name, bytes, why] of bad) assert.equal(textBytesProblem(Buffer.from(bytes)), why, name);
});

test('textProblem: NUL and unpaired UTF-16 surrogates in a JS string are refused', () => {
  for (const s of ['', 'plain', '😀', 'a\uD83D\uDE00b']) assert.equal(textProblem(s), undefined, s);
  assert.equal(textProblem('a\u0000b'), 'contains a NUL character');
  assert.equal(textProblem('\uD800'), 'contains an unpaired UTF-16 surrogate');
  assert.equal(textProblem('x\uDC00'), 'contains an unpaired UTF-16 surrogate');
  assert.equal(textProblem('\uDE00\uD83D'), 'contains an unpaired UTF-16 surrogate', 'reversed pair');
});

function spendCall(kind: ThriftProtocol, key: string): Buffer {
  return buildMessage(kind, (out) => {
    out.writeMessageBegin('Player:spendCurrency', thrift.Thrift.MessageType.CALL, 1);
    new Player.SpendCurrencyArgs({
      req: new SpendRequest({ idempotencyKey: key, currency: Currency.SOFT, amount: 5, reason: 'r' }),
    }).write(out);
    out.writeMessageEnd();
  });
}

for (const kind of ['compact', 'binary'] as const) {
  test(`${kind}: a NUL in a nested string field is BAD_REQUEST under strictText, and read as is without`, () => {
    const bytes = spendCall(kind, 'key\u0000x');
    const strict = openMessage(bytes, STRICT);
    strict.input.readMessageBegin();
    assert.throws(
      () => Player.SpendCurrencyArgs.read(strict.input),
      (err: unknown) =>
        err instanceof BadTextError &&
        err.code === 'BAD_REQUEST' &&
        err.message === 'BAD_REQUEST: a string argument contains a NUL character',
    );
    assert.equal(strict.refusedText(), true);

    const lax = openMessage(bytes, DEFAULT_CAPS);
    lax.input.readMessageBegin();
    assert.equal(Player.SpendCurrencyArgs.read(lax.input).req.idempotencyKey, 'key\u0000x');
    assert.equal(lax.refusedText(), false);

    const fine = openMessage(spendCall(kind, 'ключ-😀'), STRICT);
    fine.input.readMessageBegin();
    assert.equal(Player.SpendCurrencyArgs.read(fine.input).req.idempotencyKey, 'ключ-😀');
    assert.equal(fine.refusedText(), false);
  });

  test(`${kind}: invalid UTF-8 in a string is refused; binary fields take any bytes`, () => {
    // A string and a binary field are the same on the wire; only the reader's call differs.
    const struct = (raw: Buffer): Buffer =>
      buildMessage(kind, (out) => {
        out.writeStructBegin('S');
        out.writeFieldBegin('f', thrift.Thrift.Type.STRING, 1);
        out.writeBinary(raw);
        out.writeFieldEnd();
        out.writeFieldStop();
        out.writeStructEnd();
      });
    const reader = (raw: Buffer): thrift.TProtocol => {
      const input = openMessage(struct(raw), STRICT, kind).input;
      input.readStructBegin();
      input.readFieldBegin();
      return input;
    };
    const surrogate = Buffer.from([0x61, 0xed, 0xa0, 0x80]);
    assert.throws(
      () => reader(surrogate).readString(),
      /^BadTextError: BAD_REQUEST: a string argument is not valid UTF-8$/,
    );
    for (const raw of [surrogate, Buffer.from([0x00, 0xff, 0x00])]) assert.deepEqual(reader(raw).readBinary(), raw);
  });
}

test('a generated Processor answers a refused string with "BAD_REQUEST: …" and never calls the handler', async () => {
  let called = 0;
  const handler = {
    register: (): Session => {
      called++;
      throw new Error('not reached');
    },
  } as unknown as Sso.IHandler;
  const processor = new Sso.Processor(handler);
  const call = buildMessage('compact', (out) => {
    out.writeMessageBegin('Sso:register', thrift.Thrift.MessageType.CALL, 9);
    new Sso.RegisterArgs({ username: 'nul\u0000name', password: 'password-1' }).write(out);
    out.writeMessageEnd();
  });
  const opened = openMessage(call, STRICT);
  const reply = await new Promise<Buffer>((resolve) => {
    const output = new (protocolClass('compact'))(bufferTransport((framed) => resolve(framed.subarray(4))));
    processor.process(demultiplexed(opened.input), output);
  });
  assert.equal(called, 0);
  assert.equal(opened.refusedText(), true);
  const input = openMessage(reply, DEFAULT_CAPS).input;
  const header = input.readMessageBegin();
  assert.deepEqual([header.fname, header.mtype, header.rseqid], ['register', thrift.Thrift.MessageType.EXCEPTION, 9]);
  const err = new thrift.Thrift.TApplicationException();
  err.read(input);
  assert.equal(err.message, 'BAD_REQUEST: a string argument contains a NUL character');
});
