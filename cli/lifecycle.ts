/**
 * Signal handling of long-running commands: the first SIGINT/SIGTERM stops cleanly and exits 0;
 * a second signal, or a stop that overruns its deadline, exits 1 at once (never a hang).
 */
import type { Logger } from '../shared/log';
import { BeatThread } from '../yellow/beat-thread';

export const STOP_DEADLINE_MS = 15_000;

export function stopOnSignals(stop: () => Promise<void>, logger: Logger, deadlineMs = STOP_DEADLINE_MS): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping');
    const timer = setTimeout(() => {
      logger.error({ deadlineMs }, 'stop overran its deadline; exiting');
      process.exit(1);
    }, deadlineMs);
    timer.unref();
    // the heartbeat thread ends by itself before the exit (BeatThread.shutdown says why)
    stop()
      .then(() => BeatThread.shutdown())
      .then(
        () => {
          logger.info({ signal }, 'stopped');
          process.exit(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'stop failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A bug that escapes every handler leaves state nobody can vouch for: log it as JSON and exit
  // non-zero, so a supervisor (noon up --processes, systemd, k8s) restarts the role.
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception: exiting for a restart');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'unhandled rejection: exiting for a restart');
    process.exit(1);
  });
}

/** Prints one JSON line on stdout (ready lines, --json answers). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
