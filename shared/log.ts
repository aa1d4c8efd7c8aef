import pino from 'pino';

export type Logger = pino.Logger;

/** One JSON logger per process; every line carries role and instance id. */
export function createLogger(opts: { role: string; instanceId: string; level?: string }): Logger {
  return pino({
    level: opts.level ?? process.env.NOON_LOG_LEVEL ?? 'info',
    base: { role: opts.role, instance: opts.instanceId, pid: process.pid },
  });
}

/** A logger that drops everything, for unit tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
