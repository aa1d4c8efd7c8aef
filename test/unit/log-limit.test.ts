/** The per-cause log limiter: first line per cause per interval, the rest counted, bounded causes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorCause, LogLimiter, OTHER_CAUSES } from '../../shared/log-limit';

test('the first occurrence of a cause is logged; the rest of the interval is counted and drained once', () => {
  const l = new LogLimiter({ intervalMs: 10_000 });
  assert.equal(l.admit('A', 0), true);
  for (let t = 1; t <= 50; t++) assert.equal(l.admit('A', t * 100), false);
  assert.equal(l.admit('B', 500), true, 'another cause has its own allowance');
  assert.deepEqual(l.drain(6000), [{ cause: 'A', suppressed: 50 }]);
  assert.deepEqual(l.drain(7000), [], 'a count is handed out once');
  assert.equal(l.admit('A', 9999), false, 'still the same interval');
  assert.equal(l.admit('A', 10_000), true, 'a new interval logs the cause again');
  assert.deepEqual(l.drain(10_001), [{ cause: 'A', suppressed: 1 }]);
});

test('perInterval lines per cause, then counts', () => {
  const l = new LogLimiter({ intervalMs: 1000, perInterval: 3 });
  const logged = Array.from({ length: 10 }, (_, i) => l.admit('X', i));
  assert.deepEqual(logged, [true, true, true, false, false, false, false, false, false, false]);
  assert.deepEqual(l.drain(5), [{ cause: 'X', suppressed: 7 }]);
});

test('causes quiet for an interval are forgotten; at most maxCauses are tracked, the rest share one entry', () => {
  const l = new LogLimiter({ intervalMs: 1000, maxCauses: 3 });
  for (const c of ['a', 'b', 'c']) assert.equal(l.admit(c, 0), true);
  assert.equal(l.admit('d', 1), true, 'the first overflowing cause is logged (as other causes)');
  assert.equal(l.admit('e', 2), false, 'further new causes share its allowance');
  assert.equal(l.admit('f', 3), false);
  assert.equal(l.size, 4);
  assert.deepEqual(l.drain(500), [{ cause: OTHER_CAUSES, suppressed: 2 }]);
  assert.deepEqual(l.drain(2000), []);
  assert.equal(l.size, 0, 'every quiet cause was forgotten');
  assert.equal(l.admit('e', 2001), true, 'a forgotten cause is logged again');
});

test('a flood of distinct causes logs at most maxCauses + 1 lines per interval', () => {
  const l = new LogLimiter({ intervalMs: 10_000, maxCauses: 100 });
  let lines = 0;
  for (let i = 0; i < 100_000; i++) if (l.admit(`cause ${i} ${Math.random()}`, i / 100)) lines++;
  assert.equal(lines, 101);
  assert.equal(l.size, 101);
});

test('errorCause names where, the error class and its message, with digit runs folded and a bounded length', () => {
  assert.equal(
    errorCause('Chat:say', new TypeError('row 1234 of user 99 failed')),
    'Chat:say: TypeError: row # of user # failed',
  );
  assert.equal(
    errorCause('X:y', new Error('id 17')),
    errorCause('X:y', new Error('id 4242')),
    'ids do not make causes',
  );
  assert.equal(errorCause('X:y', 'plain string'), 'X:y: plain string');
  assert.equal(errorCause('X:y', { weird: true }), 'X:y: [object Object]');
  assert.equal(errorCause('X:y', new Error('e'.repeat(1000))).length, 200);
});
