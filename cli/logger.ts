/**
 * The CLI's pino logger: JSON lines on stderr, so stdout carries only what the command reports
 * (ready lines, tables, --json answers) and `noon start broker | jq` works. Roles add `role` and
 * `instance` in their child loggers (startService, Broker, roles.ts); a command's own lines carry
 * `role` when one is given here.
 */
import pino from 'pino';
import type { Config } from '../shared/config';
import type { Logger } from '../shared/log';

export function cliLogger(cfg: Config, role?: string): Logger {
  const base = role ? { role, instance: `${role}-${process.pid}`, pid: process.pid } : { pid: process.pid };
  return pino({ level: cfg.logLevel, base }, pino.destination({ fd: 2, sync: true }));
}
