/**
 * The CLI's pino logger, on stderr, so stdout carries only what the command reports (ready lines,
 * tables, --json answers) and `noon start broker | jq` works. On a terminal (or with
 * --log-format pretty) each line is readable text (log-format.ts); otherwise JSON lines. Roles
 * add `role` and `instance` in their child loggers (startService, Broker, roles.ts); a command's
 * own lines carry `role` when one is given here.
 */
import { writeSync } from 'node:fs';
import pino from 'pino';
import type { Config } from '../shared/config';
import type { Logger } from '../shared/log';
import { prettyLine, resolveLogFormat } from './log-format';

/** Stacks of errors are for whoever asked for debug output. */
export function wantsStacks(level: string): boolean {
  return level === 'debug' || level === 'trace';
}

export function cliLogger(cfg: Pick<Config, 'logLevel' | 'logFormat'>, role?: string): Logger {
  const base = role ? { role, instance: `${role}-${process.pid}`, pid: process.pid } : { pid: process.pid };
  if (resolveLogFormat(cfg.logFormat, process.stderr.isTTY === true) === 'json')
    return pino({ level: cfg.logLevel, base }, pino.destination({ fd: 2, sync: true }));
  const opts = { color: process.stderr.isTTY === true && !process.env.NO_COLOR, stacks: wantsStacks(cfg.logLevel) };
  return pino({ level: cfg.logLevel, base }, { write: (line: string) => void writeSync(2, prettyLine(line, opts)) });
}
