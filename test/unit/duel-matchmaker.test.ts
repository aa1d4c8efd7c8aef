// The matchmaking queue's rules (services/duel/matchmaker.ts): FIFO per stake, one entry per user,
// the max wait, and which pairings are abandoned. The queue's rows live in Postgres; these are
// the decisions made on them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { abandoned, isFresh, pair, queueOrder, type Waiting } from '../../services/duel/matchmaker';

const MAX_WAIT = 1000;

function w(userId: string, since: number, stake = 10): Waiting {
  return { userId, username: userId, sessionId: `s-${userId}`, via: undefined, stake, since };
}

test('pairs with the longest-waiting player at the stake, whatever order the rows came in', () => {
  const queue = [w('c', 300), w('a', 100), w('b', 200)];
  assert.equal(pair(queue, w('me', 400), 400, MAX_WAIT).opponent?.userId, 'a');
});

test('equal times are ordered by user id, so every instance picks the same opponent', () => {
  assert.equal(pair([w('y', 100), w('x', 100)], w('me', 200), 200, MAX_WAIT).opponent?.userId, 'x');
  assert.ok(queueOrder(w('x', 100), w('y', 100)) < 0);
  assert.ok(queueOrder(w('y', 50), w('x', 100)) < 0);
});

test('only the same stake pairs; an empty queue (or only other stakes) means waiting', () => {
  assert.equal(pair([w('a', 100, 20)], w('me', 200, 10), 200, MAX_WAIT).opponent, undefined);
  assert.deepEqual(pair([], w('me', 200), 200, MAX_WAIT), { opponent: undefined, stale: [] });
});

test('a user never pairs with itself (an entry of its own left in the queue)', () => {
  const r = pair([w('me', 100), w('b', 150)], w('me', 200), 200, MAX_WAIT);
  assert.equal(r.opponent?.userId, 'b');
});

test('entries past the max wait are never matched and are named for removal', () => {
  const r = pair([w('old', 0), w('older', -500), w('fresh', 600)], w('me', 1000), 1000, MAX_WAIT);
  assert.equal(r.opponent?.userId, 'fresh');
  assert.deepEqual(r.stale.map((s) => s.userId).sort(), ['old', 'older']);
  assert.equal(isFresh(w('x', 0), 999, MAX_WAIT), true);
  assert.equal(isFresh(w('x', 0), 1000, MAX_WAIT), false);
});

test('only stale entries: nobody to pair with, all of them to remove', () => {
  const r = pair([w('a', 0), w('b', 1)], w('me', 5000), 5000, MAX_WAIT);
  assert.equal(r.opponent, undefined);
  assert.equal(r.stale.length, 2);
});

test('a pairing is abandoned when its matchmaker left the cluster or its lease ran out', () => {
  const live = new Set(['duel-1']);
  assert.equal(abandoned({ claimedBy: 'duel-1', claimedAt: 0 }, live, 100, 1000), false);
  assert.equal(abandoned({ claimedBy: 'duel-2', claimedAt: 0 }, live, 100, 1000), true, 'matchmaker gone');
  assert.equal(abandoned({ claimedBy: 'duel-1', claimedAt: 0 }, live, 1000, 1000), true, 'lease over');
});
