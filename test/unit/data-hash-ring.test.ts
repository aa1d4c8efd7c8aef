import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HashRing, hashTag } from '../../shared/data/hash-ring';

const KEYS = Array.from({ length: 10_000 }, (_, i) => `user:${i}:profile`);
const NODES = ['redis://10.0.0.1:6379', 'redis://10.0.0.2:6379', 'redis://10.0.0.3:6379'];

function placement(ring: HashRing): Map<string, string> {
  return new Map(KEYS.map((k) => [k, ring.nodeFor(k)]));
}

function movedFraction(a: Map<string, string>, b: Map<string, string>): number {
  let moved = 0;
  for (const [k, n] of a) if (b.get(k) !== n) moved++;
  return moved / a.size;
}

test('keys spread over 3 nodes within a band around 1/3', () => {
  const counts = new Map<string, number>();
  for (const n of placement(new HashRing(NODES)).values()) counts.set(n, (counts.get(n) ?? 0) + 1);
  assert.equal(counts.size, 3);
  for (const [node, c] of counts) {
    const share = c / KEYS.length;
    assert.ok(share > 0.25 && share < 0.42, `${node} holds ${(share * 100).toFixed(1)}%`);
  }
});

test('adding a 4th node moves 20-30% of keys, all of them to the new node', () => {
  const ring = new HashRing(NODES);
  const before = placement(ring);
  ring.add('redis://10.0.0.4:6379');
  const afterAdd = placement(ring);
  const frac = movedFraction(before, afterAdd);
  assert.ok(frac >= 0.2 && frac <= 0.3, `moved ${(frac * 100).toFixed(1)}%`);
  for (const [k, n] of afterAdd) if (before.get(k) !== n) assert.equal(n, 'redis://10.0.0.4:6379');
});

test("removing a node moves only that node's keys", () => {
  const ring = new HashRing([...NODES, 'redis://10.0.0.4:6379']);
  const before = placement(ring);
  ring.remove('redis://10.0.0.2:6379');
  const afterRemove = placement(ring);
  for (const [k, n] of before) {
    if (n === 'redis://10.0.0.2:6379') assert.notEqual(afterRemove.get(k), n);
    else assert.equal(afterRemove.get(k), n, `${k} moved although its node stayed`);
  }
});

test('placement does not depend on the order nodes were added', () => {
  const a = new HashRing(NODES);
  const b = new HashRing([...NODES].reverse());
  for (const k of KEYS.slice(0, 1000)) assert.equal(a.nodeFor(k), b.nodeFor(k));
});

test('{tag} keys co-locate and hash on the tag only', () => {
  assert.equal(hashTag('room:{r1}:history'), 'r1');
  assert.equal(hashTag('room:{}:x'), 'room:{}:x', 'an empty tag hashes the whole key');
  assert.equal(hashTag('no-tag'), 'no-tag');
  assert.equal(hashTag('a{b}{c}'), 'b', 'the first tag wins');
  const ring = new HashRing(NODES);
  const nodes = new Set<string>();
  for (let room = 0; room < 200; room++) {
    const n = ring.nodeFor(`room:{${room}}:history`);
    assert.equal(ring.nodeFor(`room:{${room}}:members`), n);
    assert.equal(ring.nodeFor(`lb:{${room}}`), n);
    nodes.add(n);
  }
  assert.equal(nodes.size, 3, 'different rooms still spread over all nodes');
});

test('an empty ring throws instead of guessing', () => {
  assert.throws(() => new HashRing().nodeFor('k'), /no nodes/);
});
