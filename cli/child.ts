/**
 * One supervised `noon start <role>` child process. Its stdout is read line by line for the
 * `{"ready":...}` line; every other line, and its stderr (pino logs), goes to our stderr. Its
 * stdin stays open as a lifeline: when we die, it sees EOF and stops itself (it is in a process
 * group of its own, so nothing else reaches it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { withAllocatorEnv } from './allocator-env';
import { stderrSink } from './logger';

/** bin/noon.js, from cli/ in the sources or from dist/cli/ when compiled (one folder deeper). */
export const NOON_BIN = join(
  __dirname,
  existsSync(join(__dirname, '..', 'bin', 'noon.js')) ? '..' : join('..', '..'),
  'bin',
  'noon.js',
);

export interface ChildReady {
  ready: string;
  pid: number;
  [k: string]: unknown;
}

export class RoleChild {
  readonly proc: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly ready: Promise<ChildReady>;

  constructor(
    readonly role: string,
    env: NodeJS.ProcessEnv,
    readyTimeoutMs: number,
  ) {
    // Its own process group: Ctrl-C on a terminal signals the whole foreground group, and a child
    // that got that SIGINT as well as the supervisor's SIGTERM would take the second signal as
    // "exit now" and skip its graceful stop. The supervisor alone forwards one signal.
    this.proc = spawn(process.execPath, [NOON_BIN, 'start', role, '--supervised'], {
      env: withAllocatorEnv(env),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    this.proc.stdin?.on('error', () => undefined);
    // whole lines, through the same writer as our own log lines (never two lines mixed)
    createInterface({ input: this.proc.stderr as NodeJS.ReadableStream }).on('line', (line) =>
      stderrSink().write(`${line}\n`),
    );
    // 'close', not 'exit': its last lines (a crash's message too) are read before we call it gone
    this.exited = new Promise((resolve) => this.proc.once('close', (code, signal) => resolve({ code, signal })));
    this.ready = new Promise<ChildReady>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${role} printed no ready line within ${readyTimeoutMs} ms`)),
        readyTimeoutMs,
      );
      const lines = createInterface({ input: this.proc.stdout as NodeJS.ReadableStream });
      lines.on('line', (line) => {
        const parsed = readyLine(line);
        if (parsed && parsed.ready === role) {
          clearTimeout(timer);
          resolve(parsed);
        } else stderrSink().write(`${line}\n`);
      });
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`${role} exited (${signal ?? `code ${code}`}) before it was ready`));
      });
    });
    this.ready.catch(() => undefined);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** SIGTERM, then SIGKILL if it has not exited within graceMs. */
  async stop(graceMs: number): Promise<void> {
    if (!this.alive) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export function readyLine(line: string): ChildReady | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(line) as unknown;
    if (typeof v === 'object' && v !== null && 'ready' in v && typeof v.ready === 'string') return v as ChildReady;
  } catch {
    // not JSON: an ordinary output line
  }
  return undefined;
}
