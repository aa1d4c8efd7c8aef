/**
 * A fault drill's hook (`npm run chaos`): with `NOON_DEBUG_STALL_MS` > 0, SIGUSR2 blocks the main
 * event loop for that long with busy work, as a long synchronous task or a GC pause would. It is
 * off unless asked for, because anyone who may signal the process could then stall it at will.
 */
import type { Logger } from '../shared/log';

/** Blocks the calling thread's event loop for `ms` of busy work; returns how long it really took. */
export function blockEventLoop(ms: number): number {
  const start = Date.now();
  let spin = 0;
  while (Date.now() - start < ms) spin = (spin + 1) % 1_000_003;
  return spin >= 0 ? Date.now() - start : 0;
}

export function armStallSignal(ms: number, logger: Logger): void {
  if (ms <= 0) return;
  logger.warn(
    { ms },
    'NOON_DEBUG_STALL_MS: SIGUSR2 blocks this process (a fault drill hook; leave it 0 in production)',
  );
  process.on('SIGUSR2', () => {
    logger.warn({ ms }, 'SIGUSR2: blocking the main event loop');
    const took = blockEventLoop(ms);
    logger.warn({ ms: took }, 'main event loop unblocked');
  });
}
