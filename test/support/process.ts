/**
 * The one way tests start a child process: `node <argv>` from the repository root (or `cwd`), its stdout and
 * stderr collected as lines, waits that wake on output (never a fixed sleep), the JSON ready line,
 * and stop by its own pid (a signal, then SIGKILL after a grace period).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
export const NOON = join(ROOT, 'bin', 'noon.js');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Every child not yet exited, so a suite's `after` can end what a failed test left behind. */
const running = new Set<TestProcess>();
// A test file that ends without stopping its children (a test timed out before its cleanup, an
// `after` hook threw) must not leave them behind: they would hold the runner's inherited stderr
// open, and `npm test` would wait for it forever.
process.on('exit', () => killAllProcesses());

export class TestProcess {
  readonly proc: ChildProcess;
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<Exit>;
  private waiters: Array<() => void> = [];

  /**
   * `stderr: 'inherit'` shows the child's log in the test output instead of collecting it. `wrap`
   * runs node through a command that execs it (e.g. `ip netns exec <ns>`), so the pid is still node's.
   * `detached` puts the child in a process group of its own (its pid), which a test may signal as
   * a terminal signals its foreground group. `program` runs another interpreter than node (a peer
   * written in another language) with `argv`.
   */
  constructor(
    argv: string[],
    env: NodeJS.ProcessEnv,
    private readonly name = argv.join(' '),
    opts: { stderr?: 'pipe' | 'inherit'; cwd?: string; wrap?: string[]; detached?: boolean; program?: string } = {},
  ) {
    const [command, ...args] = [...(opts.wrap ?? []), opts.program ?? process.execPath, ...argv] as [
      string,
      ...string[],
    ];
    this.proc = spawn(command, args, {
      cwd: opts.cwd ?? ROOT,
      env,
      stdio: ['ignore', 'pipe', opts.stderr ?? 'pipe'],
      detached: opts.detached === true,
    });
    running.add(this);
    this.lines(this.proc.stdout, this.stdout);
    this.lines(this.proc.stderr, this.stderr);
    this.exited = new Promise((resolve) =>
      this.proc.once('exit', (code, signal) => {
        running.delete(this);
        resolve({ code, signal });
        this.wake();
      }),
    );
  }

  get pid(): number {
    return this.proc.pid as number;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Resolves with the first value `pick` returns for the output so far, within deadlineMs. */
  async waitFor<T>(what: string, pick: () => T | undefined, deadlineMs: number): Promise<T> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const v = pick();
      if (v !== undefined) return v;
      if (!this.alive) throw new Error(`${this.name} exited before ${what}\n${this.tail()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no ${what} within ${deadlineMs} ms\n${this.tail()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The first JSON line on stdout whose fields match `where`. */
  jsonLine(where: Record<string, unknown>): Record<string, unknown> | undefined {
    for (const l of this.stdout) {
      if (!l.startsWith('{')) continue;
      let v: Record<string, unknown>;
      try {
        v = JSON.parse(l) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (Object.entries(where).every(([k, x]) => (x === undefined ? k in v : v[k] === x))) return v;
    }
    return undefined;
  }

  /** The ready line (`{"ready": …}`), within deadlineMs. */
  ready(deadlineMs: number, role?: string): Promise<Record<string, unknown>> {
    return this.waitFor('ready line', () => this.jsonLine({ ready: role }), deadlineMs);
  }

  tail(n = 30): string {
    return [...this.stdout.slice(-n), ...this.stderr.slice(-n)].join('\n');
  }

  /** Sends `signal` and waits for the exit; SIGKILL after graceMs (the test then fails on the code). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 20_000): Promise<Exit> {
    if (this.alive) this.proc.kill(signal);
    const t = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }

  private lines(stream: NodeJS.ReadableStream | null, into: string[]): void {
    let buf = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      buf += chunk;
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      into.push(...parts);
      this.wake();
    });
  }

  private wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }
}

/** SIGKILLs every test child still running (for a suite's `after`). */
export function killAllProcesses(): void {
  for (const p of running) if (p.alive) p.proc.kill('SIGKILL');
}
