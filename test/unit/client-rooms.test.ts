// The SDK's room tracker (client/rooms.ts) with a scripted history: duplicates dropped, a gap
// held and repaired from history, a join that catches up what fell between the snapshot and
// the subscription, a resume that catches up from the last seq, untracked rooms passed through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RoomTracker } from '../../client/rooms';
import { until } from '../support/wait';

interface Msg {
  roomId: string;
  seq: number;
}

function world(stored: Map<string, number>) {
  const got: Msg[] = [];
  const calls: Array<[string, number]> = [];
  const tracker = new RoomTracker<Msg>({
    settleMs: 5,
    history: async (roomId, afterSeq, limit) => {
      calls.push([roomId, afterSeq]);
      const last = stored.get(roomId) ?? 0;
      const out: Msg[] = [];
      for (let s = afterSeq + 1; s <= last && out.length < limit; s++) out.push({ roomId, seq: s });
      return out;
    },
    emit: (m) => got.push(m),
    pageSize: 3,
  });
  const chat = tracker.wrap({
    join: async (roomId: string) => ({ lastSeq: stored.get(roomId) ?? 0 }),
    leave: async (roomId: string) => void roomId,
  });
  return { got, calls, tracker, chat };
}

const seqs = (ms: Msg[], room = 'r'): number[] => ms.filter((m) => m.roomId === room).map((m) => m.seq);

test('duplicates are dropped and a gap is repaired from history, in order', async () => {
  const stored = new Map([['r', 2]]);
  const w = world(stored);
  await w.chat.join('r');
  await until('the join caught up', () => w.calls.length >= 1);
  stored.set('r', 7);
  w.tracker.onMessage({ roomId: 'r', seq: 3 });
  w.tracker.onMessage({ roomId: 'r', seq: 3 });
  w.tracker.onMessage({ roomId: 'r', seq: 7 });
  await until('the gap 4..6 repaired', () => w.got.length >= 5);
  w.tracker.onMessage({ roomId: 'r', seq: 5 });
  assert.deepEqual(seqs(w.got), [3, 4, 5, 6, 7]);
  assert.ok(w.tracker.stats.duplicates >= 2);
  assert.equal(w.tracker.lastSeq('r'), 7);
});

test('a join catches up messages sent between its snapshot and its subscription', async () => {
  const stored = new Map([['r', 4]]);
  const w = world(stored);
  const snap = w.chat.join('r');
  stored.set('r', 9); // sent after the snapshot was read, before any push arrived
  await snap;
  await until('caught up to 9', () => w.got.length >= 5);
  assert.deepEqual(seqs(w.got), [5, 6, 7, 8, 9]);
});

test('after a resume every room is caught up from its last seq; untracked rooms pass through', async () => {
  const stored = new Map([['r', 0]]);
  const w = world(stored);
  await w.chat.join('r');
  w.tracker.onMessage({ roomId: 'r', seq: 1 });
  stored.set('r', 6);
  w.tracker.resumed();
  await until('caught up to 6', () => seqs(w.got).length >= 6);
  assert.deepEqual(seqs(w.got), [1, 2, 3, 4, 5, 6]);
  w.tracker.onMessage({ roomId: 'other', seq: 42 });
  assert.deepEqual(seqs(w.got, 'other'), [42]);
  await w.chat.leave('r');
  w.tracker.onMessage({ roomId: 'r', seq: 1 });
  assert.deepEqual(seqs(w.got), [1, 2, 3, 4, 5, 6, 1], 'a left room is not tracked');
});
