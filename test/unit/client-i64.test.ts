/**
 * The SDK's i64 and enum rule (client/i64.ts), as pure functions: Int64 ↔ bigint exactly over the
 * whole signed 64-bit range, deep conversion of decoded values (in place, classes kept,
 * idempotent), bigint i64 arguments on the wire in both protocols, and enum names.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Int64 from 'node-int64';
import { bigints, bigintWrites, enumName, i64, isInt64, toBigInt } from '../../client/i64';
import { Currency, DuelPhase, DuelState, ErrorCode, Profile, Wallet } from '../../shared/protocol';
import { CLIENT_CAPS } from '../../client/connection';
import { bufferTransport } from '../../shared/thrift/fast-write';
import { openMessage, protocolClass } from '../../shared/thrift/messages';

const EDGES = [0n, 1n, -1n, 255n, 256n, 2n ** 31n, -(2n ** 31n), 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n + 1n];
const EXTREMES = [2n ** 63n - 1n, -(2n ** 63n), -(2n ** 53n) - 7n, 1_234_567_890_123_456_789n];

describe('i64 values', () => {
  test('i64() and toBigInt() round-trip the whole signed 64-bit range exactly', () => {
    for (const v of [...EDGES, ...EXTREMES]) {
      const x = i64(v);
      assert.ok(x instanceof Int64);
      assert.equal(toBigInt(x), v, String(v));
      assert.equal(toBigInt(i64(String(v))), v, `from the decimal string ${v}`);
    }
    assert.equal(toBigInt(new Int64(-42)), -42n, 'an Int64 made from a number');
    assert.equal(toBigInt(i64(9_007_199_254_740_991)), 9_007_199_254_740_991n);
    const given = new Int64(5);
    assert.equal(i64(given), given, 'an Int64 is returned as is');
  });

  test('i64() refuses what is not an exact signed 64-bit value', () => {
    assert.throws(() => i64(2n ** 63n), RangeError);
    assert.throws(() => i64(-(2n ** 63n) - 1n), RangeError);
    assert.throws(() => i64(2 ** 53), /not a safe integer/);
    assert.throws(() => i64(1.5), /not a safe integer/);
  });

  test('isInt64 also knows an Int64 of another copy of node-int64 (a studio bundle)', () => {
    const foreign = { buffer: Buffer.from([0, 0, 0, 0, 0, 0, 0, 7]), offset: 0, toOctetString: () => '' };
    assert.equal(isInt64(foreign), true);
    assert.equal(toBigInt(foreign as unknown as Int64), 7n);
    assert.equal(isInt64({ buffer: 'no' }), false);
    assert.equal(isInt64(7n), false);
  });

  test('bigints() converts deeply and in place: structs, lists, sets, map keys and values', () => {
    const profile = new Profile({ userId: 'u', level: 3, xp: 300, wallet: new Wallet({ soft: 10, hard: -2 }) });
    const state = new DuelState({ duelId: 'd', phase: DuelPhase.ACTIVE, players: ['a'], stake: i64(2n ** 40n) });
    const v = {
      profile,
      list: [i64(1n), [i64(2n)]],
      set: new Set([i64(3n)]),
      map: new Map<unknown, unknown>([[i64(4n), { n: i64(5n) }]]),
      state,
      binary: Buffer.from([1, 2]),
      nothing: undefined,
    };
    const out = bigints(v);
    assert.equal(out, v as unknown, 'the same object');
    assert.ok(out.profile instanceof Profile, 'struct classes are kept');
    assert.equal(out.profile.xp, 300n);
    assert.equal(out.profile.level, 3, 'i32 stays a number');
    assert.deepEqual([out.profile.wallet?.soft, out.profile.wallet?.hard], [10n, -2n]);
    assert.deepEqual(out.list, [1n, [2n]]);
    assert.deepEqual([...out.set], [3n]);
    assert.deepEqual([...out.map], [[4n, { n: 5n }]]);
    assert.equal(out.state.stake, 2n ** 40n);
    assert.equal(out.state.phase, DuelPhase.ACTIVE);
    assert.deepEqual(out.binary, Buffer.from([1, 2]), 'binary fields are left alone');
    assert.deepEqual(bigints(out), out, 'idempotent');
    assert.equal(bigints(i64(-9n)), -9n);
    assert.equal(bigints('text'), 'text');
  });

  for (const kind of ['compact', 'binary'] as const) {
    test(`a bigint i64 argument is written exactly in ${kind} protocol`, () => {
      for (const v of [...EDGES, ...EXTREMES]) {
        const wallet = new Wallet({ soft: 0, hard: 0 });
        // what an app passing a bigint (JavaScript, or i64() skipped) would hand the generated code
        (wallet as unknown as { soft: bigint }).soft = v;
        let bytes: Buffer = Buffer.alloc(0);
        const trans = bufferTransport((framed) => (bytes = framed.subarray(4)));
        const p = new (bigintWrites(protocolClass(kind)))(trans);
        p.writeMessageBegin('Events:walletChanged', 4, 0);
        wallet.write(p);
        p.writeMessageEnd();
        trans.flush();
        const input = openMessage(bytes, CLIENT_CAPS).input;
        input.readMessageBegin();
        assert.equal(toBigInt(Wallet.read(input).soft as Int64), v, `${kind} ${v}`);
      }
    });
  }
});

describe('enum names', () => {
  test('enumName reads the generated reverse mapping; unknown numbers are undefined', () => {
    assert.equal(enumName(Currency, Currency.SOFT), 'SOFT');
    assert.equal(enumName(Currency, 2), 'HARD');
    assert.equal(enumName(ErrorCode, ErrorCode.INSUFFICIENT_FUNDS), 'INSUFFICIENT_FUNDS');
    assert.equal(enumName(DuelPhase, 99), undefined);
    assert.equal(enumName(Currency, undefined), undefined);
    const name: 'SOFT' | 'HARD' | undefined = enumName(Currency, 1);
    assert.equal(name, 'SOFT');
  });
});
