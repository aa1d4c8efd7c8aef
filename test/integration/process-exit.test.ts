/**
 * A process that started and stopped noon exits by itself: a studio's `node --test` run of its
 * own services must end when its tests do, with no force-exit. (A worker thread's port re-ref'd
 * by a listener added after unref() once kept every such process alive until its test timeout.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestProcess } from '../support/process';

test('a process that started and stopped a test cluster exits on its own', async () => {
  const child = new TestProcess(
    ['--import', 'tsx', 'test/support/cluster-then-exit.ts'],
    { ...process.env },
    'cluster-then-exit',
  );
  const stopped = await child.waitFor('the stopped line', () => child.jsonLine({ stopped: true }), 120_000);
  // Nothing of noon's may hold the loop: only the stdio pipes and the timer-free remainder.
  const exit = await Promise.race([
    child.exited,
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 30_000).unref()),
  ]);
  if (exit === undefined) {
    await child.stop('SIGKILL');
    assert.fail(`still running 30 s after the cluster stopped; holding ${JSON.stringify(stopped.holding)}`);
  }
  assert.equal(exit.code, 0, child.tail());
});
