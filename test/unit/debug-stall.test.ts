/** The fault drills' stall hook (cli/debug-stall.ts): off unless asked for; when armed, SIGUSR2 blocks the loop. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { armStallSignal, blockEventLoop } from '../../cli/debug-stall';
import { loadConfig } from '../../shared/config';
import { silentLogger } from '../../shared/log';

test('NOON_DEBUG_STALL_MS is 0 (off) by default, and 0 arms nothing', () => {
  assert.equal(loadConfig({}, {}).debugStallMs, 0);
  const before = process.listenerCount('SIGUSR2');
  armStallSignal(0, silentLogger());
  assert.equal(process.listenerCount('SIGUSR2'), before);
  assert.throws(() => loadConfig({}, { NOON_DEBUG_STALL_MS: '-1' }), /NOON_DEBUG_STALL_MS: -1 is below the minimum 0/);
});

test('armed, SIGUSR2 blocks the main event loop for the given time', async () => {
  assert.ok(blockEventLoop(50) >= 50);
  armStallSignal(300, silentLogger());
  const t0 = Date.now();
  // listeners run in order: this one runs once the armed one has returned
  const after = new Promise<number>((resolve) => process.once('SIGUSR2', () => resolve(Date.now() - t0)));
  // A signal listener holds no handle: without one the runner may see an idle loop before the
  // signal is delivered and cancel the test.
  const holdLoop = setInterval(() => undefined, 1000);
  process.kill(process.pid, 'SIGUSR2');
  const ms = await after;
  clearInterval(holdLoop);
  assert.ok(ms >= 290, `the signal's next listener ran after ${ms} ms`);
});
