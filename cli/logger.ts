/**
 * The CLI's pino logger, on stderr, so stdout carries only what the command reports (ready lines,
 * tables, --json answers) and `noon start broker | jq` works. On a terminal (or with
 * --log-format pretty) each line is readable text (log-format.ts); otherwise JSON lines. Roles
 * add `role` and `instance` in their child loggers (startService, Broker, roles.ts); a command's
 * own lines carry `role` when one is given here.
 */
import pino from 'pino';
import type { Config } from '../shared/config';
import type { Logger } from '../shared/log';
import { prettyLine, resolveLogFormat } from './log-format';

/** Stacks of errors are for whoever asked for debug output. */
export function wantsStacks(level: string): boolean {
  return level === 'debug' || level === 'trace';
}

let sink: pino.DestinationStream | undefined;

/**
 * The process's one writer to stderr, synchronous: every log line (ours, and a supervisor's
 * children's, passed on line by line) goes through it, so lines never interleave mid-line, as
 * they could between a direct write and a stream still flushing a partial one.
 */
export function stderrSink(): pino.DestinationStream {
  sink ??= pino.destination({ fd: 2, sync: true });
  return sink;
}

export function cliLogger(cfg: Pick<Config, 'logLevel' | 'logFormat'>, role?: string): Logger {
  const base = role ? { role, instance: `${role}-${process.pid}`, pid: process.pid } : { pid: process.pid };
  const stderr = stderrSink();
  if (resolveLogFormat(cfg.logFormat, process.stderr.isTTY === true) === 'json')
    return pino({ level: cfg.logLevel, base }, stderr);
  const opts = { color: process.stderr.isTTY === true && !process.env.NO_COLOR, stacks: wantsStacks(cfg.logLevel) };
  return pino({ level: cfg.logLevel, base }, { write: (line: string) => void stderr.write(prettyLine(line, opts)) });
}
