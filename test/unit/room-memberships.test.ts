/**
 * Spec of a resumed session's rooms (broker/room-memberships.ts): joined at once when the session
 * store answers; when it does not, joined as soon as it answers again, while the connection is
 * still the session's; given up (and said so) after the retry window.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryKv } from '../../shared/data/memory-kv';
import { silentLogger } from '../../shared/log';
import { RoomMemberships } from '../../broker/room-memberships';

/** A store whose reads of rooms fail the first `failures` times, as during a shard failover. */
function flakyStore(failures: number): { kv: MemoryKv; reads: () => number } {
  const kv = new MemoryKv();
  let reads = 0;
  const hgetall = kv.hgetall.bind(kv);
  kv.hgetall = (key: string) => (++reads <= failures ? Promise.reject(new Error('connection closed')) : hgetall(key));
  return { kv, reads: () => reads };
}

async function withRooms(kv: MemoryKv, m: RoomMemberships): Promise<void> {
  m.set('s1', 'room:a', 'chat');
  m.set('s1', 'room:b', 'chat');
  // set is fire and forget: wait until both are stored
  for (;;) {
    try {
      if (Object.keys(await kv.hgetall('sess:{s1}:rooms')).length === 2) return;
    } catch {
      /* a failing read of the flaky store: counted, try again */
    }
  }
}

const retry = { everyMs: 2, forMs: 200 };

// The retry's timer is unref'd (a pending restore must not keep a broker from exiting): hold the
// loop while a test waits on it, or the runner sees an idle loop and cancels the test.
let holdLoop: NodeJS.Timeout;
before(() => {
  holdLoop = setInterval(() => undefined, 1000);
});
after(() => clearInterval(holdLoop));

test('the store answers: every room is joined at once', async () => {
  const { kv } = flakyStore(0);
  const m = new RoomMemberships(kv, silentLogger(), retry);
  await withRooms(kv, m);
  const joined: string[] = [];
  await m.restore(
    's1',
    () => true,
    (topic, role) => joined.push(`${topic}@${role}`),
  );
  assert.deepEqual(joined.sort(), ['room:a@chat', 'room:b@chat']);
});

test('the store fails, then answers: the rooms are joined when it does', async () => {
  const { kv, reads } = flakyStore(0);
  const m = new RoomMemberships(kv, silentLogger(), retry);
  await withRooms(kv, m);
  const before = reads();
  let failuresLeft = 3;
  const hgetall = kv.hgetall;
  kv.hgetall = (key: string) => (failuresLeft-- > 0 ? Promise.reject(new Error('connection closed')) : hgetall(key));
  assert.equal(await m.rooms('s1'), undefined, 'unreachable is not "no rooms"');
  const joined: string[] = [];
  await m.restore(
    's1',
    () => true,
    (topic) => joined.push(topic),
  );
  assert.deepEqual(joined.sort(), ['room:a', 'room:b']);
  assert.ok(reads() >= before, 'read again');
});

test('the connection went away meanwhile: nothing is joined', async () => {
  const { kv } = flakyStore(1_000_000);
  const m = new RoomMemberships(kv, silentLogger(), retry);
  let wanted = true;
  const joined: string[] = [];
  const restoring = m.restore(
    's1',
    () => wanted,
    (topic) => joined.push(topic),
  );
  wanted = false;
  await restoring;
  assert.deepEqual(joined, []);
});

test('the store stays unreachable: the retry gives up after its window', async () => {
  const { kv, reads } = flakyStore(1_000_000);
  const m = new RoomMemberships(kv, silentLogger(), { everyMs: 5, forMs: 30 });
  const joined: string[] = [];
  await m.restore(
    's1',
    () => true,
    (topic) => joined.push(topic),
  );
  assert.deepEqual(joined, []);
  assert.ok(reads() >= 2, `read more than once (${reads()})`);
});
