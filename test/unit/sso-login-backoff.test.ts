/**
 * The sso login limits against the in-process store: an account's failures slow further attempts
 * (capped), never refuse them; one connection that keeps failing on one account backs off
 * exponentially; the per-connection window still holds. Waits are recorded, not slept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryKv } from '../../shared/data/memory-kv';
import { silentLogger } from '../../shared/log';
import { ErrorCode, GameError } from '../../shared/protocol';
import {
  accountDelayMs,
  DEFAULT_LOGIN_LIMITS,
  LoginLimiter,
  pairBackoffMs,
  type LoginLimits,
} from '../../services/sso/ratelimit';
import { validDeviceId } from '../../services/sso/handlers';

test('accountDelayMs: free attempts, then doubling from the base up to the cap', () => {
  const l = DEFAULT_LOGIN_LIMITS;
  assert.deepEqual(
    Array.from({ length: 10 }, (_, i) => accountDelayMs(i + 1, l)),
    [0, 0, 0, 0, 0, 250, 500, 1000, 1000, 1000],
  );
  assert.equal(accountDelayMs(1_000_000, l), 1000, 'no overflow however many');
  assert.equal(accountDelayMs(50, { ...l, accountDelayMaxMs: 0 }), 0, 'a cap of 0 turns it off');
});

test('pairBackoffMs: one free failure, then 1 s doubling up to 30 s', () => {
  assert.deepEqual(
    Array.from({ length: 8 }, (_, i) => pairBackoffMs(i + 1, DEFAULT_LOGIN_LIMITS)),
    [0, 1000, 2000, 4000, 8000, 16000, 30000, 30000],
  );
});

function limiter(limits: Partial<LoginLimits> = {}): { l: LoginLimiter; waits: number[]; kv: MemoryKv } {
  const kv = new MemoryKv();
  const waits: number[] = [];
  const l = new LoginLimiter(kv, silentLogger(), { ...DEFAULT_LOGIN_LIMITS, ...limits }, async (ms) => {
    waits.push(ms);
  });
  return { l, waits, kv };
}

async function code(p: Promise<unknown>): Promise<ErrorCode | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof GameError && err.code !== undefined) return err.code;
    throw err;
  }
}

test('failures from many connections slow the account, never refuse it; a success starts over', async () => {
  const { l, waits } = limiter();
  for (let i = 0; i < 12; i++) {
    const a = await l.begin('Victim', `conn-${i}`);
    await a.failed();
  }
  assert.deepEqual(waits, [250, 500, 1000, 1000, 1000, 1000, 1000]);
  const owner = await l.begin('victim', 'owner-conn');
  assert.equal(owner.delayedMs, 1000, 'the owner is slowed at most the cap (and not refused)');
  await owner.succeeded();
  assert.equal((await l.begin('victim', 'owner-conn-2')).delayedMs, 0, 'a success cleared the count');
});

test('one connection failing on one account backs off; other connections and accounts do not', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const { l } = limiter();
  await (await l.begin('acct', 'c1')).failed(); // 1st failure: free
  await (await l.begin('acct', 'c1')).failed(); // 2nd: now 1 s of backoff
  assert.equal(await code(l.begin('acct', 'c1')), ErrorCode.RATE_LIMITED);
  assert.equal(await code(l.begin('ACCT', 'c1')), ErrorCode.RATE_LIMITED, 'account names are case-insensitive');
  assert.equal(await code(l.begin('acct', 'c2')), 'ok', 'another connection is not held back');
  assert.equal(await code(l.begin('other', 'c1')), 'ok', 'another account on the same connection is not');
  t.mock.timers.tick(1001);
  const again = await l.begin('acct', 'c1');
  await again.failed(); // 3rd failure: 2 s
  t.mock.timers.tick(1500);
  assert.equal(await code(l.begin('acct', 'c1')), ErrorCode.RATE_LIMITED, 'the backoff doubled');
  t.mock.timers.tick(600);
  const ok = await l.begin('acct', 'c1');
  await ok.succeeded();
  await (await l.begin('acct', 'c1')).failed();
  assert.equal(await code(l.begin('acct', 'c1')), 'ok', 'a success reset the pair: one free failure again');
});

test('one attempt per (account, connection) at a time: a concurrent burst on one connection is refused', async () => {
  const { l } = limiter();
  const results = await Promise.all(Array.from({ length: 5 }, () => code(l.begin('acct', 'c1'))));
  assert.deepEqual(results.filter((r) => r === 'ok').length, 1);
  assert.deepEqual(results.filter((r) => r === ErrorCode.RATE_LIMITED).length, 4);
});

test('the per-connection window still holds across accounts (20 by default)', async () => {
  const { l } = limiter();
  for (let i = 0; i < 20; i++) await (await l.begin(`spray-${i}`, 'c1')).failed();
  assert.equal(await code(l.begin('victim', 'c1')), ErrorCode.RATE_LIMITED);
  assert.equal(await code(l.admitConnection('c1')), ErrorCode.RATE_LIMITED);
  assert.equal(await code(l.begin('victim', 'c2')), 'ok');
});

test('validDeviceId: shape and a plausibility check against placeholders', () => {
  const good = [
    '3f2504e0-4f89-11d3-9a0c-0305e82c3301',
    'b1946ac92492d2347c6235b4d2611184',
    'dGhpcyBpcyByYW5kb20',
    'a1b2c3d4e5f60718',
    'x'.repeat(60) + 'abcdefgh12345678',
  ];
  for (const id of good) assert.equal(validDeviceId(id), true, id);
  const bad = [
    '',
    'short-id-123',
    '0000000000000000',
    'abababababababab',
    '1234123412341234',
    'aaaaaaaaaaaaaaab',
    'has spaces in it ok',
    'ümlauts-are-not-ok-here',
    'nul\u0000abcdefghijklmnop',
    'a'.repeat(129),
  ];
  for (const id of bad) assert.equal(validDeviceId(id), false, JSON.stringify(id));
});
