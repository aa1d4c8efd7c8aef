import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rendezvous } from '../../shared/hashing';

const keys = Array.from({ length: 10_000 }, (_, i) => `session-${i}`);

test('rendezvous spreads keys evenly and is order independent', () => {
  const nodes = ['a', 'b', 'c', 'd'];
  const counts = new Map<string, number>();
  for (const k of keys) {
    const owner = rendezvous(k, nodes) as string;
    assert.equal(owner, rendezvous(k, [...nodes].reverse()));
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  for (const n of nodes) {
    const c = counts.get(n) ?? 0;
    assert.ok(c > 2000 && c < 3000, `${n} owns ${c} of 10000`);
  }
});

test('removing a candidate moves only the keys it owned', () => {
  const before = keys.map((k) => rendezvous(k, ['a', 'b', 'c']));
  const after = keys.map((k) => rendezvous(k, ['a', 'c']));
  for (let i = 0; i < keys.length; i++) {
    if (before[i] !== 'b') assert.equal(after[i], before[i]);
    else assert.notEqual(after[i], 'b');
  }
  assert.equal(rendezvous('x', []), undefined);
});
