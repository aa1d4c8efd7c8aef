/**
 * Start-up time and idle RSS per role: `noon start <role>` from this checkout (bin/noon.js, which
 * runs the TypeScript sources through tsx) vs the compiled CLI (`node dist/cli/main.js`, what the
 * Dockerfile and deploy/ run). Time = spawn → the role's `{"ready": …}` line; RSS read from
 * /proc/<pid>/status at the ready line and again 2 s later (idle). Also one CLI call that starts
 * nothing (`noon --help`): spawn → exit. Variants alternate round by round (ABAB), medians shown.
 *
 *   npm run build && node --import tsx bench/startup.ts
 *   BENCH_STARTUP_DIST=<dir>     the compiled tree (default dist/; needs node_modules reachable)
 *   BENCH_STARTUP_ROUNDS=3       rounds
 *   BENCH_STARTUP_ROLES=yellow,broker,brokerlist,leaderboard
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { runAsMain } from './lib/main';
import { HEARTBEAT_MS } from './lib/noon-stack';
import { ROOT, spawnReady, stopChild, type Child } from './lib/procs';

const DIST = process.env.BENCH_STARTUP_DIST ?? join(ROOT, 'dist');
const ROUNDS = Number(process.env.BENCH_STARTUP_ROUNDS ?? 3);
const ROLES = (process.env.BENCH_STARTUP_ROLES ?? 'yellow,broker,brokerlist,leaderboard').split(',');

interface Variant {
  label: string;
  argv: string[];
}

interface Measured {
  readyMs: number;
  rssAtReady: number;
  rssIdle: number;
}

function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Runs `argv` until its ready line (or its exit with `exits`), measuring; then stops it by pid. */
function measure(argv: string[], env: Record<string, string>, exits: boolean): Promise<Measured> {
  const started = performance.now();
  const proc = spawn(process.execPath, argv, {
    cwd: ROOT,
    env: { ...process.env, NOON_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise<Measured>((resolve, reject) => {
    const deadline = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')}: no ready line within 60 s`));
    }, 60_000);
    proc.once('exit', (code) => {
      clearTimeout(deadline);
      if (exits) resolve({ readyMs: performance.now() - started, rssAtReady: NaN, rssIdle: NaN });
      else reject(new Error(`${argv.join(' ')} exited (code ${code}) before its ready line`));
    });
    if (exits) {
      proc.stdout.resume();
      return;
    }
    createInterface({ input: proc.stdout }).on('line', (line) => {
      if (!line.startsWith('{"ready"')) return;
      const readyMs = performance.now() - started;
      const pid = proc.pid as number;
      const rssAtReady = rssOf(pid);
      // idle: what the role holds once its start-up garbage and first heartbeats have settled
      setTimeout(() => {
        const rssIdle = rssOf(pid);
        clearTimeout(deadline);
        proc.removeAllListeners('exit');
        proc.once('exit', () => resolve({ readyMs, rssAtReady, rssIdle }));
        proc.kill('SIGTERM');
        setTimeout(() => proc.kill('SIGKILL'), 5000).unref();
      }, 2000);
    });
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const mb = (b: number): string => (Number.isFinite(b) ? `${(b / 1048576).toFixed(0)} MB` : '–');

export async function runStartup(): Promise<string> {
  const compiled = join(DIST, 'cli', 'main.js');
  if (!existsSync(compiled)) throw new Error(`${compiled} is missing: run npm run build first`);
  const variants: Variant[] = [
    { label: 'checkout (bin/noon.js → tsx)', argv: [join(ROOT, 'bin', 'noon.js')] },
    { label: 'compiled (node dist/cli/main.js)', argv: [compiled] },
  ];
  const children: Child[] = [];
  const rows: string[] = [];
  try {
    const yellow = await spawnReady('yellow', 'test/support/yellow-proc.ts', {
      NOON_YELLOW_PORT: '0',
      NOON_HEARTBEAT_MS: HEARTBEAT_MS,
    });
    children.push(yellow);
    const env = {
      NOON_YELLOW: String(yellow.ready.router),
      NOON_YELLOW_PORT: '0',
      NOON_BROKER_PORT: '0',
      NOON_BROKER_WS_PORT: '0',
      NOON_BROKERLIST_PORT: '0',
      NOON_METRICS_PORT: '0',
      NOON_INTERNAL_PLAINTEXT: '1',
      NOON_DATA_DIR: mkdtempSync(join(tmpdir(), 'noon-startup-')),
    };
    const cases: { name: string; args: string[]; exits: boolean }[] = [
      ...ROLES.map((r) => ({ name: `start ${r}`, args: ['start', r], exits: false })),
      { name: '--help (a CLI call)', args: ['--help'], exits: true },
    ];
    rows.push(
      '| command | variant | ready (median) | RSS at ready | RSS idle (2 s later) |',
      '| --- | --- | ---: | ---: | ---: |',
    );
    for (const c of cases) {
      const results = new Map<string, Measured[]>(variants.map((v) => [v.label, []]));
      for (let round = 0; round < ROUNDS; round++)
        for (const v of variants) {
          const m = await measure([...v.argv, ...c.args], env, c.exits);
          results.get(v.label)?.push(m);
          process.stderr.write(`  ${c.name} ${v.label}: ${m.readyMs.toFixed(0)} ms ${mb(m.rssIdle)}\n`);
        }
      for (const v of variants) {
        const ms = results.get(v.label) ?? [];
        rows.push(
          `| noon ${c.name} | ${v.label} | ${median(ms.map((m) => m.readyMs)).toFixed(0)} ms | ${mb(median(ms.map((m) => m.rssAtReady)))} | ${mb(median(ms.map((m) => m.rssIdle)))} |`,
        );
      }
    }
  } finally {
    for (const c of children) await stopChild(c);
  }
  return [`### Start-up per role: checkout (tsx) vs compiled (${ROUNDS} rounds, alternating)`, '', ...rows].join('\n');
}

if (require.main === module) runAsMain(runStartup);
