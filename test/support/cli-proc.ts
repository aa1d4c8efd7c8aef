// Helpers for CLI tests: run `node bin/noon.js …` as real child processes, wait for output lines
// with deadlines (never sleeps), and stop every child by its own pid.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NOON, TestProcess, type Exit } from './process';

export { NOON };

/** Ports 0 everywhere; a fast heartbeat; cheap scrypt so register is quick. */
export function clusterFlags(dataDir: string): string[] {
  return [
    '--data-dir',
    dataDir,
    '--yellow-port',
    '0',
    '--broker-port',
    '0',
    '--broker-ws-port',
    '0',
    '--brokerlist-port',
    '0',
    '--console-port',
    '0',
    '--heartbeat-ms',
    '200',
    '--scrypt-n',
    '1024',
  ];
}

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An env without NOON_* from the developer's shell, so tests see only what they pass. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NOON_')) env[k] = v;
  return { ...env, ...extra };
}

/** `node bin/noon.js <args>`, its output collected; SIGINT is how a person stops `noon up`. */
export class NoonProc extends TestProcess {
  constructor(args: string[], env: NodeJS.ProcessEnv = cleanEnv(), opts: { detached?: boolean } = {}) {
    super([NOON, ...args], env, `noon ${args[0] ?? ''}`, opts);
  }

  override stop(signal: NodeJS.Signals = 'SIGINT', graceMs = 20_000): Promise<Exit> {
    return super.stop(signal, graceMs);
  }
}

/** Runs a short noon command to completion (deadline: SIGKILL) and returns its output. */
export async function runNoon(
  args: string[],
  env: NodeJS.ProcessEnv = cleanEnv(),
  deadlineMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = new NoonProc(args, env);
  const t = setTimeout(() => p.proc.kill('SIGKILL'), deadlineMs);
  const { code } = await p.exited;
  clearTimeout(t);
  return { code, stdout: p.stdout.join('\n'), stderr: p.stderr.join('\n') };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
