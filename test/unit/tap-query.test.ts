/**
 * Spec of what a tap reads and shows (shared/tap/record.ts, shared/tap/args.ts): queries are
 * checked against the calls schema with the character named; `args` may be selected, never
 * tested; decoded arguments show every field the IDL marks sensitive as "[redacted]", nested
 * ones too, in compact and binary; what cannot be decoded says so instead of failing.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Int64 from 'node-int64';
import * as thrift from 'thrift';
import { BuyRequest, Currency, Player, SENSITIVE_FIELDS, Sso } from '../../shared/protocol';
import { QueryError } from '../../shared/query';
import type { ThriftProtocol } from '../../shared/thrift/header';
import { buildMessage } from '../../shared/thrift/messages';
import { decodeArgs, REDACTED } from '../../shared/tap/args';
import { parseTapQuery } from '../../shared/tap/record';

function message(name: string, args: { write(out: thrift.TProtocol): void }, protocol: ThriftProtocol): Buffer {
  return buildMessage(protocol, (out) => {
    out.writeMessageBegin(name, thrift.Thrift.MessageType.CALL, 1);
    args.write(out);
    out.writeMessageEnd();
  });
}

function queryError(text: string): QueryError {
  try {
    parseTapQuery(text);
  } catch (err) {
    if (err instanceof QueryError) return err;
    throw err;
  }
  assert.fail(`${text} parsed`);
}

describe('parseTapQuery', () => {
  test('a query of the calls schema', () => {
    const q = parseTapQuery("SELECT method, latency_ms FROM calls WHERE method LIKE 'Player:%' AND latency_ms > 50");
    assert.deepEqual(q.select, ['method', 'latency_ms']);
    assert.equal(q.wantsArgs, false);
    assert.equal(q.compiled.matches({ method: 'Player:buy', latency_ms: 51 }), true);
    assert.equal(q.compiled.matches({ method: 'Sso:ping', latency_ms: 51 }), false);
  });

  test('args is selected only by name: * and a bare filter leave it out', () => {
    assert.equal(parseTapQuery('SELECT method, args FROM calls').wantsArgs, true);
    assert.equal(parseTapQuery('SELECT * FROM calls').wantsArgs, false);
    assert.equal(parseTapQuery("outcome != 'ok'").wantsArgs, false);
  });

  test('args cannot be tested, in a WHERE or a bare filter, and the error names its character', () => {
    const e = queryError("SELECT method FROM calls WHERE args LIKE '%ann%'");
    assert.equal(e.position, 31);
    assert.match(e.message, /'args' can be selected but not tested/);
    assert.equal(queryError("method = 'x' OR args IS NULL").position, 16);
  });

  test('an unknown field, a wrong source and a type mismatch point at their character', () => {
    assert.equal(queryError('SELECT methd FROM calls').position, 7);
    assert.match(queryError('SELECT method FROM messages').message, /calls/);
    assert.equal(queryError("latency_ms > 'slow'").position, 13);
  });
});

describe('decodeArgs', () => {
  test('the IDL marks passwords, tokens, device ids and receipts sensitive', () => {
    for (const name of ['password', 'token', 'deviceId', 'receiptId']) assert.ok(SENSITIVE_FIELDS.has(name), name);
    assert.ok(!SENSITIVE_FIELDS.has('username'));
  });

  for (const protocol of ['compact', 'binary'] as const) {
    test(`Sso:login shows the username and hides the password (${protocol})`, () => {
      const bytes = message(
        'Sso:login',
        new Sso.LoginArgs({ username: 'ann', password: 'hunter2-but-longer', clientProtocol: 1 }),
        protocol,
      );
      const args = decodeArgs('Sso:login', bytes);
      assert.deepEqual(args, { username: 'ann', password: REDACTED, clientProtocol: 1 });
      assert.ok(!JSON.stringify(args).includes('hunter2'));
    });
  }

  test('a sensitive field inside a struct argument is hidden too; an i64 becomes a number', () => {
    const req = new BuyRequest({ receiptId: 'rcpt-secret-1', currency: Currency.HARD, amount: new Int64(250) });
    const args = decodeArgs(
      'Player:buyCurrency',
      message('Player:buyCurrency', new Player.BuyCurrencyArgs({ req }), 'compact'),
    );
    assert.deepEqual(args, { req: { receiptId: REDACTED, currency: Currency.HARD, amount: 250 } });
  });

  test('a method outside noon.thrift, or bytes that do not decode, say why instead of failing', () => {
    assert.match(
      String(decodeArgs('Game:move', Buffer.from([0x82, 0x21]))),
      /not decoded: not a method of noon.thrift/,
    );
    assert.match(String(decodeArgs('Sso:constructor', Buffer.alloc(4))), /not decoded/);
    assert.match(String(decodeArgs('Sso:login', Buffer.from([0x82, 0x21, 0x01]))), /^\(not decoded: /);
  });
});
