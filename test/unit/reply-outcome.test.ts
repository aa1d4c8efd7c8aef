/**
 * The broker counts each call by what its reply says: a declared GameError or a framework
 * TApplicationException inside an ordinary reply is an error of its code, never `ok`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as thrift from 'thrift';
import Int64 from 'node-int64';
import { ErrorCode, GameError, Player, Sso, Wallet } from '../../shared/protocol';
import { buildMessage } from '../../shared/thrift/messages';
import type { ThriftProtocol } from '../../shared/thrift/header';
import { replyOutcome } from '../../shared/thrift/reply-outcome';

type Writable = { write(out: thrift.TProtocol): void };

function reply(
  protocol: ThriftProtocol,
  name: string,
  result: Writable,
  type = thrift.Thrift.MessageType.REPLY,
): Buffer {
  return buildMessage(protocol, (out) => {
    out.writeMessageBegin(name, type, 7);
    result.write(out);
    out.writeMessageEnd();
  });
}

const appException = (message: string): Writable =>
  new thrift.Thrift.TApplicationException(thrift.Thrift.TApplicationExceptionType.INTERNAL_ERROR, message);

const cases: { what: string; message: (p: ThriftProtocol) => Buffer; outcome: string }[] = [
  {
    what: 'a result with a value',
    message: (p) =>
      reply(
        p,
        'getWallet',
        new Player.GetWalletResult({ success: new Wallet({ soft: new Int64(5), hard: new Int64(0) }) }),
      ),
    outcome: 'ok',
  },
  { what: 'a void result', message: (p) => reply(p, 'logout', new Sso.LogoutResult({})), outcome: 'ok' },
  {
    what: 'a declared GameError',
    message: (p) =>
      reply(
        p,
        'spendCurrency',
        new Player.SpendCurrencyResult({
          err: new GameError({ code: ErrorCode.INSUFFICIENT_FUNDS, message: 'not enough', retryable: false }),
        }),
      ),
    outcome: 'INSUFFICIENT_FUNDS',
  },
  {
    what: "the framework's exception for an undeclared failure",
    message: (p) =>
      reply(
        p,
        'buyCurrency',
        appException('UNAVAILABLE: Player:buyCurrency: database unavailable'),
        thrift.Thrift.MessageType.EXCEPTION,
      ),
    outcome: 'UNAVAILABLE',
  },
  {
    what: 'an exception with no code in front',
    message: (p) => reply(p, 'buyCurrency', appException('something broke'), thrift.Thrift.MessageType.EXCEPTION),
    outcome: 'EXCEPTION',
  },
  { what: 'bytes that are no Thrift message', message: () => Buffer.from([1, 2, 3]), outcome: 'PROTOCOL' },
];

for (const protocol of ['compact', 'binary'] as const)
  for (const c of cases)
    test(`${protocol}: ${c.what} counts as ${c.outcome}`, () => {
      assert.equal(replyOutcome(c.message(protocol)), c.outcome);
    });
