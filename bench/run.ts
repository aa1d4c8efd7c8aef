/**
 * Runs every benchmark in sequence and writes the tables as markdown to stdout and to
 * bench/results/latest.md (gitignored). Progress lines go to stderr.
 *
 *   node --import tsx bench/run.ts          (npm run bench)
 *   BENCH_PG_URL / BENCH_REDIS_URL           servers for bench/data.ts (default: 127.0.0.1, db test)
 *   BENCH_QUICK=1 ...                        smoke run (short windows)
 *   BENCH_CPU_PROF=/tmp/prof ...             children write V8 CPU profiles there (bench/prof-top.ts)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { runBroker } from './broker';
import { runCurve } from './curve';
import { runData } from './data';
import { runIdleConns } from './idle-conns';
import { runRooms } from './rooms';
import { ROOT } from './lib/procs';
import { runServiceCalls } from './service-calls';

async function main(): Promise<void> {
  const started = Date.now();
  const parts: string[] = [
    '## noon benchmarks',
    '',
    `${new Date().toISOString()} · node ${process.version} · ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'} · CPU µs/call from /proc (10 ms ticks) over the measured window`,
    '',
  ];
  process.stderr.write('service-to-service calls\n');
  parts.push(await runServiceCalls(), '');
  process.stderr.write('service-to-service calls, plaintext vs CURVE\n');
  parts.push(await runCurve(), '');
  process.stderr.write('client → broker → service\n');
  parts.push(await runBroker(), '');
  process.stderr.write('player wallet and profile vs bare pg / redis\n');
  parts.push(await runData(), '');
  process.stderr.write('rooms: one owner with persistence, fan-out on one broker\n');
  parts.push(await runRooms(), '');
  process.stderr.write('broker memory per idle connection\n');
  parts.push(await runIdleConns(), '');
  parts.push(`_whole run: ${((Date.now() - started) / 1000).toFixed(0)} s_`, '');
  const md = parts.join('\n');
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest.md'), md);
  process.stdout.write(md);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
