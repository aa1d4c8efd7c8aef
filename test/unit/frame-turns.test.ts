// edge/frame-turns.ts: a connection's frames are handled a few per event-loop turn, in order, the
// socket paused while some wait; another connection's frame arriving meanwhile goes first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameTurns } from '../../edge/frame-turns';

const frame = (s: string): Buffer => Buffer.from(s);
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function connection(name: string, handled: string[], perTurn: number, gone = (): boolean => false) {
  const socket = { paused: false, pauses: 0 };
  const turns = new FrameTurns({
    perTurn,
    handle: (f) => handled.push(`${name}:${f.toString()}`),
    pause: () => {
      socket.paused = true;
      socket.pauses++;
    },
    resume: () => {
      socket.paused = false;
    },
    gone,
  });
  return { socket, turns };
}

test("one read's frames go perTurn at a time, in order, with the socket paused until they are done", async () => {
  const handled: string[] = [];
  const { socket, turns } = connection('flood', handled, 3);
  turns.push(Array.from({ length: 7 }, (_, i) => frame(`f${i}`)));
  assert.deepEqual(handled, ['flood:f0', 'flood:f1', 'flood:f2'], 'the first perTurn at once');
  assert.equal(socket.paused, true, 'no more reads while frames wait');
  assert.equal(turns.backlog, 4);
  await nextTurn();
  assert.equal(handled.length, 6);
  await nextTurn();
  assert.deepEqual(
    handled,
    Array.from({ length: 7 }, (_, i) => `flood:f${i}`),
  );
  assert.equal(socket.paused, false, 'reading again once the backlog is handled');
  assert.equal(socket.pauses, 1);
  assert.equal(turns.backlog, 0);
});

test("a quiet connection's call is handled before a flooding connection's backlog", async () => {
  const handled: string[] = [];
  const flood = connection('flood', handled, 2);
  const quiet = connection('quiet', handled, 2);
  flood.turns.push(Array.from({ length: 6 }, (_, i) => frame(`f${i}`)));
  quiet.turns.push([frame('q0')]);
  while (flood.turns.backlog > 0) await nextTurn();
  assert.deepEqual(handled, ['flood:f0', 'flood:f1', 'quiet:q0', 'flood:f2', 'flood:f3', 'flood:f4', 'flood:f5']);
});

test('frames read behind a backlog join its end, never overtaking it', async () => {
  const handled: string[] = [];
  const { turns } = connection('c', handled, 2);
  turns.push([frame('a'), frame('b'), frame('c')]);
  turns.push([frame('d')]);
  assert.deepEqual(handled, ['c:a', 'c:b']);
  while (turns.backlog > 0) await nextTurn();
  assert.deepEqual(handled, ['c:a', 'c:b', 'c:c', 'c:d']);
});

test('what waits is dropped once the connection is gone', async () => {
  const handled: string[] = [];
  let closed = false;
  const { turns } = connection('c', handled, 2, () => closed);
  turns.push(Array.from({ length: 5 }, (_, i) => frame(`f${i}`)));
  closed = true;
  await nextTurn();
  assert.deepEqual(handled, ['c:f0', 'c:f1']);
  assert.equal(turns.backlog, 0);
});
