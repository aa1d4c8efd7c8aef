/**
 * Log lines a person can read: pino writes JSON, and on a terminal each line is rewritten as
 * `HH:MM:SS.mmm LEVEL who: message key=value …`. A formatter of our own, run synchronously in the
 * main thread: a pino transport would start a worker thread in every process for a few string
 * operations, and a crash would lose the lines still queued to it.
 */
import type { LogFormat } from '../shared/config';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };

/** Keys the line's head already shows (or that say nothing to a person reading one process). */
const SHOWN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'role', 'instance']);

/** `auto` is pretty exactly when the logs go to a terminal. */
export function resolveLogFormat(format: LogFormat | string, isTerminal: boolean): 'json' | 'pretty' {
  if (format === 'json' || format === 'pretty') return format;
  return isTerminal ? 'pretty' : 'json';
}

function clock(ms: unknown): string {
  const d = new Date(typeof ms === 'number' ? ms : Date.now());
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

function valueText(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

/** A serialized error: its message (and its stack when `stacks`), never the whole object. */
function errText(v: unknown, stacks: boolean): string {
  if (typeof v !== 'object' || v === null) return valueText(v);
  const e = v as { message?: unknown; stack?: unknown; code?: unknown };
  const head = `${typeof e.code === 'string' ? `${e.code} ` : ''}${String(e.message ?? '')}`;
  return stacks && typeof e.stack === 'string' ? `${valueText(head)}\n${e.stack}` : valueText(head);
}

export interface PrettyOptions {
  color: boolean;
  /** print an error's stack (at debug level and below) */
  stacks: boolean;
}

/** One JSON line from pino as one readable line (a line that is not JSON is kept as it is). */
export function prettyLine(json: string, opts: PrettyOptions): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const level = typeof entry.level === 'number' ? entry.level : 30;
  const name = (LEVELS[level] ?? String(level)).padEnd(5);
  const levelText = opts.color ? `\x1b[${COLORS[level] ?? '0'}m${name}\x1b[0m` : name;
  const who = typeof entry.instance === 'string' ? entry.instance : typeof entry.role === 'string' ? entry.role : '';
  const fields = Object.entries(entry)
    .filter(([k]) => !SHOWN.has(k))
    .map(([k, v]) => `${k}=${k === 'err' || k === 'error' ? errText(v, opts.stacks) : valueText(v)}`);
  const msg = typeof entry.msg === 'string' ? entry.msg : '';
  return `${clock(entry.time)} ${levelText} ${who ? `${who}: ` : ''}${[msg, ...fields].filter(Boolean).join(' ')}\n`;
}
