// A service's nested call fails with the callee's framework error, which arrives as a Thrift
// TApplicationException "CODE: detail"; noonErrorOfNested gives it back its code, so the outer
// call answers UNAVAILABLE (retry later) rather than INTERNAL (a bug).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as thrift from 'thrift';
import { noonErrorOfNested } from '../../shared/errors';

const appError = (message: string): Error =>
  new thrift.Thrift.TApplicationException(thrift.Thrift.TApplicationExceptionType.INTERNAL_ERROR, message);

const CASES: Array<[string, unknown, string | undefined, string | undefined]> = [
  [
    'a callee database outage',
    appError('UNAVAILABLE: Player:getWallet: database unavailable (trace 9f10)'),
    'UNAVAILABLE',
    'UNAVAILABLE: Player:getWallet: database unavailable (trace 9f10)',
  ],
  ['outcome unknown', appError('TIMEOUT: transaction outcome unknown: no answer to COMMIT'), 'TIMEOUT', undefined],
  ['a busy callee', appError('BUSY: room r has 10 messages waiting'), 'BUSY', undefined],
  ['a code that is not ours', appError('NOPE: something'), undefined, undefined],
  ['no code at all', appError('something broke'), undefined, undefined],
  ['a plain Error with a code-like message', new Error('UNAVAILABLE: not from a callee'), undefined, undefined],
  ['not an Error', { message: 'UNAVAILABLE: x', name: 'TApplicationException' }, undefined, undefined],
];

for (const [name, err, code, message] of CASES)
  test(`${name}: ${code ?? 'not a nested framework error'}`, () => {
    const got = noonErrorOfNested(err);
    assert.equal(got?.code, code);
    if (message !== undefined) assert.equal(got?.message, message);
    if (code !== undefined) assert.equal(got?.retryable, code !== 'INTERNAL');
  });
