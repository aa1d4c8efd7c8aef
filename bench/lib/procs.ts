/**
 * Child processes for benchmarks: spawn `node --import tsx <script>` from the repo root, wait
 * (with a deadline) for its JSON ready line, read its CPU time from /proc, and stop it by its own
 * pid (SIGTERM, then SIGKILL after a deadline). Every child is also killed if the parent exits.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = join(__dirname, '..', '..');

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  ready: Record<string, unknown>;
  exited: Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

/** Extra node flags for every child, e.g. `--cpu-prof --cpu-prof-dir=...` (BENCH_CPU_PROF=dir). */
function childNodeArgs(name: string): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, name)}`] : [];
}

/**
 * Spawns a TypeScript script (path relative to `root`, by default this repo's) and waits for its
 * `ready` line. Another `root` runs another commit's code (lib/base-tree.ts).
 */
export function spawnReady(
  name: string,
  script: string,
  env: Record<string, string>,
  deadlineMs = 20_000,
  root = ROOT,
): Promise<Child> {
  const proc = spawn(process.execPath, [...childNodeArgs(name), '--import', 'tsx', script], {
    cwd: root,
    env: { ...process.env, NOON_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  live.add(proc);
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    else proc.once('exit', () => resolve());
  });
  void exited.then(() => live.delete(proc));
  return new Promise<Child>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${script} printed no ready line within ${deadlineMs} ms`));
    }, deadlineMs);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${script} exited before its ready line (code ${proc.exitCode})`));
    });
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        return;
      }
      if (typeof v === 'object' && v !== null && 'ready' in v && proc.pid !== undefined) {
        clearTimeout(timer);
        resolve({ name, proc, pid: proc.pid, ready: v as Record<string, unknown>, exited });
      }
    });
  });
}

/** SIGTERM (lets --cpu-prof write its profile), SIGKILL if still alive after `graceMs`. */
export async function stopChild(child: Child, graceMs = 3000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU time of a process in µs (Linux /proc; 10 ms resolution). NaN if unknown. */
export function cpuMicros(pid: number): number {
  if (pid === process.pid) {
    const u = process.cpuUsage();
    return u.user + u.system;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // fields after the ")" of the command name: state is field 3, utime 14, stime 15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1e6) / clockTicks();
  } catch {
    return NaN;
  }
}

/** Waits until `check` returns a value (retrying on errors): the test harness's own helper. */
export { until as waitFor } from '../../test/support/wait';
