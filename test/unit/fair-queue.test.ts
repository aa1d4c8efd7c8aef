// rpc/fair-queue.ts: requests of several peers are handled round-robin, a few per peer per turn,
// each peer's in its order; past the bound the reader is told to wait until there is room again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FairQueue } from '../../rpc/fair-queue';

function drained(q: { readonly depth: number }): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => (q.depth === 0 ? resolve() : void setImmediate(check));
    check();
  });
}

test("a peer's big batch does not hold back another peer's requests past one turn", async () => {
  const handled: string[] = [];
  const q = new FairQueue<string>((x) => handled.push(x), {
    sliceMs: 1000,
    perTurn: 2,
    maxQueued: 100,
    onError: (err) => assert.fail(String(err)),
  });
  q.push(
    'flood',
    Array.from({ length: 6 }, (_, i) => `f${i}`),
  );
  q.push('quiet', ['q0']);
  await drained(q);
  assert.deepEqual(handled, ['f0', 'f1', 'q0', 'f2', 'f3', 'f4', 'f5']);
});

test('past maxQueued the reader waits until the backlog is below it; handling goes on after a throw', async () => {
  const handled: number[] = [];
  const errors: unknown[] = [];
  const q = new FairQueue<number>(
    (x) => {
      if (x === 3) throw new Error('boom');
      handled.push(x);
    },
    { sliceMs: 1000, perTurn: 4, maxQueued: 5, onError: (err) => errors.push(err) },
  );
  q.push('a', [0, 1, 2, 3, 4]);
  const room = q.room();
  assert.ok(room, 'five waiting: no room');
  await room;
  assert.ok(q.depth < 5);
  await drained(q);
  assert.deepEqual(handled, [0, 1, 2, 4]);
  assert.equal(errors.length, 1);
  assert.equal(q.room(), undefined);
});
