/**
 * Per-address accounting at the edge: the canonical address form, and the login-attempt limit
 * per address (a token bucket per address, bounded map). Pure: the clock is passed in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressRateLimit, normalizeAddress } from '../../edge/address-limits';
import { ConfigError, loadConfig } from '../../shared/config';

test('normalizeAddress: IPv4-mapped IPv6 becomes IPv4, IPv6 is compressed and lower case', () => {
  const cases: [string, string][] = [
    ['127.0.0.2', '127.0.0.2'],
    ['::ffff:127.0.0.2', '127.0.0.2'],
    ['::FFFF:127.0.0.2', '127.0.0.2'],
    ['::ffff:7f00:2', '127.0.0.2'],
    ['0:0:0:0:0:ffff:10.1.2.3', '10.1.2.3'],
    ['::ffff:c0a8:0101', '192.168.1.1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['::1', '::1'],
    ['2001:DB8:0000::1', '2001:db8::1'],
    ['fe80::1%eth0', 'fe80::1%eth0'],
    ['unknown', 'unknown'],
    [' 10.0.0.1 ', '10.0.0.1'],
  ];
  for (const [raw, want] of cases) assert.equal(normalizeAddress(raw), want, raw);
});

test('AddressRateLimit: `limit` calls per address at once, then refused; other addresses unaffected', () => {
  const l = new AddressRateLimit({ limit: 5, windowMs: 60_000 });
  const taken = Array.from({ length: 8 }, () => l.take('10.0.0.7', 1000));
  assert.deepEqual(taken, [true, true, true, true, true, false, false, false]);
  assert.equal(l.take('10.0.0.8', 1000), true, 'another address has its own bucket');
  assert.equal(l.take('::ffff:10.0.0.7', 1000), false, 'the mapped form is the same address');
});

test('AddressRateLimit: tokens come back evenly over the window', () => {
  const l = new AddressRateLimit({ limit: 6, windowMs: 60_000 });
  for (let i = 0; i < 6; i++) assert.equal(l.take('a', 0), true);
  assert.equal(l.take('a', 0), false);
  assert.equal(l.take('a', 9_999), false, 'one token takes windowMs / limit = 10 s');
  assert.equal(l.take('a', 10_001), true);
  assert.equal(l.take('a', 10_002), false);
  for (let i = 0; i < 6; i++) assert.equal(l.take('a', 1_000_000), true, 'a full window refills the burst');
  assert.equal(l.take('a', 1_000_000), false, 'never more than the limit at once');
});

test('AddressRateLimit: at most maxAddresses are tracked, the least recently seen forgotten first', () => {
  const l = new AddressRateLimit({ limit: 1, windowMs: 60_000, maxAddresses: 3 });
  for (const a of ['a', 'b', 'c']) assert.equal(l.take(a, 0), true);
  assert.equal(l.take('a', 1), false, 'a is seen again: now the most recent');
  assert.equal(l.take('d', 2), true, 'd pushes out b, the least recently seen');
  assert.equal(l.size, 3);
  assert.equal(l.take('a', 3), false, 'a is still tracked (and still empty)');
  assert.equal(l.take('b', 4), true, 'b was forgotten: it starts over');
});

test('the login-limit options: defaults, and loginMethods entries must be Service:method', () => {
  const cfg = loadConfig({}, {});
  assert.deepEqual(
    [cfg.loginAttemptsPerIp, cfg.loginAttemptsWindowMs, cfg.loginMethods, cfg.loginDelayMaxMs, cfg.errorLogIntervalMs],
    [100, 60_000, ['Sso:login', 'Sso:register', 'Sso:loginDevice', 'Sso:upgradeDevice'], 1000, 10_000],
  );
  assert.deepEqual(loadConfig({}, { NOON_LOGIN_METHODS: 'Auth:signIn, Sso:login' }).loginMethods, [
    'Auth:signIn',
    'Sso:login',
  ]);
  assert.throws(
    () => loadConfig({}, { NOON_LOGIN_METHODS: 'Sso:login,login' }),
    (err: unknown) => err instanceof ConfigError && /"login" is not Service:method/.test(err.message),
  );
  assert.throws(() => loadConfig({ loginAttemptsPerIp: 0 }, {}), /below the minimum 1/);
});
