/** The file-descriptor budget of client connections (edge/fd-budget.ts), with a made-up process. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FdBudget, openFileLimit, RESERVE } from '../../edge/fd-budget';

test('the soft file limit is read from /proc/self/limits text', () => {
  const text = [
    'Limit                     Soft Limit           Hard Limit           Units',
    'Max open files            1024                 4096                 files',
  ].join('\n');
  assert.equal(openFileLimit(text), 1024);
  assert.equal(openFileLimit('Max open files            unlimited            unlimited            files'), undefined);
  assert.equal(openFileLimit(''), undefined);
  assert.ok((openFileLimit() ?? 1) > 0, 'this process has one');
});

test('a connection is refused once it would leave fewer than RESERVE descriptors', () => {
  let open = 100;
  let reads = 0;
  const budget = new FdBudget(1024, () => {
    reads++;
    return open;
  });
  assert.equal(budget.exhausted(10, 0), false);
  assert.equal(reads, 0, 'far from the limit nothing is read');
  open = 900;
  assert.equal(budget.exhausted(800, 0), false, `900 open + ${RESERVE} < 1024`);
  // 60 more connections since the read: estimated 960 open, no new read within the interval.
  assert.equal(budget.exhausted(860, 10), true);
  assert.equal(reads, 1);
  open = 500; // connections closed; the next read sees it
  assert.equal(budget.exhausted(500, 100), false);
  assert.equal(reads, 2);
  assert.equal(new FdBudget(undefined, () => 10_000).exhausted(1_000_000), false, 'no known limit: no refusal');
});
