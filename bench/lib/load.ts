/**
 * A closed-loop load: `inFlight` workers, each issuing its next call as soon as its previous one
 * answered. Calls completed during the warm-up are not counted; after it, every completion within
 * the measured window is counted and its latency recorded (µs, HDR histogram, 3 significant
 * digits). The run ends after `durationMs`; workers still waiting get `drainMs` to finish.
 */
import { performance } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';
import { cpuMicros } from './procs';

export interface LoadOptions {
  inFlight: number;
  warmupMs: number;
  durationMs: number;
  /** one call; `slot` is the worker's index (0 .. inFlight-1), at most one call per slot at a time */
  call(slot: number): Promise<void>;
  /** processes whose CPU time is sampled over the measured window (label -> pid) */
  cpu?: Record<string, number>;
  drainMs?: number;
}

export interface LoadResult {
  inFlight: number;
  calls: number;
  errors: number;
  firstError?: string;
  seconds: number;
  /** completed calls per second */
  rate: number;
  p50Us: number;
  p99Us: number;
  /** CPU µs per completed call, per sampled process */
  cpuPerCall: Record<string, number>;
}

export async function closedLoop(opts: LoadOptions): Promise<LoadResult> {
  const hist = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
  let phase: 'warmup' | 'measure' | 'stop' = 'warmup';
  let calls = 0;
  let errors = 0;
  let firstError: string | undefined;
  const worker = async (slot: number): Promise<void> => {
    while (phase !== 'stop') {
      const t0 = performance.now();
      let failed = false;
      try {
        await opts.call(slot);
      } catch (err) {
        failed = true;
        firstError ??= err instanceof Error ? err.message : String(err);
        // a call that fails at once must not spin the loop in microtasks and starve the timers
        await new Promise<void>((r) => setImmediate(r));
      }
      if (phase !== 'measure') continue;
      if (failed) errors++;
      else {
        calls++;
        hist.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      }
    }
  };
  const workers = Array.from({ length: opts.inFlight }, (_, i) => worker(i));
  const pids = opts.cpu ?? {};
  await sleep(opts.warmupMs);
  phase = 'measure';
  const cpu0 = sampleCpu(pids);
  const t0 = performance.now();
  await sleep(opts.durationMs);
  phase = 'stop';
  const seconds = (performance.now() - t0) / 1000;
  const cpu1 = sampleCpu(pids);
  const measured = { calls, errors };
  await Promise.race([Promise.all(workers), sleep(opts.drainMs ?? 5000)]);
  const cpuPerCall: Record<string, number> = {};
  for (const k of Object.keys(pids))
    cpuPerCall[k] = measured.calls > 0 ? ((cpu1[k] ?? NaN) - (cpu0[k] ?? NaN)) / measured.calls : NaN;
  const result: LoadResult = {
    inFlight: opts.inFlight,
    calls: measured.calls,
    errors: measured.errors,
    seconds,
    rate: measured.calls / seconds,
    p50Us: hist.getValueAtPercentile(50),
    p99Us: hist.getValueAtPercentile(99),
    cpuPerCall,
    ...(firstError !== undefined ? { firstError } : {}),
  };
  hist.destroy();
  return result;
}

function sampleCpu(pids: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, pid] of Object.entries(pids)) out[k] = cpuMicros(pid);
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Measurement lengths, shortened by BENCH_QUICK=1 for a smoke run. */
export function timings(): { warmupMs: number; durationMs: number } {
  return process.env.BENCH_QUICK ? { warmupMs: 300, durationMs: 700 } : { warmupMs: 1000, durationMs: 3000 };
}
