/**
 * Children for Yellow and cluster tests: a script or `noon` started by test/support/process.ts,
 * resolved once its ready line is out; kill by pid.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { TestProcess } from './process';

export interface Child {
  proc: ChildProcess;
  ready: Record<string, unknown>;
  /** its output, to wait for lines after the ready line */
  output: TestProcess;
  /** resolves with the exit code/signal; already-exited children resolve at once */
  exited: Promise<void>;
}

const children = new Set<ChildProcess>();

/** Spawns `node --import tsx test/support/<script>` and waits (deadlineMs) for a JSON line with `ready`. */
export function spawnReady(script: string, env: Record<string, string>, deadlineMs = 15_000): Promise<Child> {
  return spawnNode(['--import', 'tsx', join('test', 'support', script)], script, env, deadlineMs);
}

/** Spawns `node bin/noon.js <args>` (the real CLI) and waits for its ready line. */
export function spawnNoon(args: string[], env: Record<string, string>, deadlineMs = 30_000): Promise<Child> {
  return spawnNode([join('bin', 'noon.js'), ...args], `noon ${args.join(' ')}`, env, deadlineMs);
}

async function spawnNode(
  argv: string[],
  name: string,
  env: Record<string, string>,
  deadlineMs: number,
): Promise<Child> {
  const p = new TestProcess(argv, { ...process.env, ...env }, name, { stderr: 'inherit' });
  children.add(p.proc);
  const exited = p.exited.then(() => {
    children.delete(p.proc);
  });
  const ready = await p.ready(deadlineMs).catch(async (err: unknown) => {
    await p.stop('SIGKILL');
    throw err;
  });
  return { proc: p.proc, ready, exited, output: p };
}

/** SIGKILLs a child by its pid and waits until it is gone. */
export async function kill(child: Child, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill(signal);
  await child.exited;
}

/** Kills every child still running (for `after`). */
export function killAll(): void {
  for (const proc of children) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
}

export function portOf(endpoint: unknown): number {
  const m = String(endpoint).match(/:(\d+)$/);
  if (!m) throw new Error(`no port in ${String(endpoint)}`);
  return Number(m[1]);
}
