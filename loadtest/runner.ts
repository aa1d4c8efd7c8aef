/**
 * Runs a scenario: starts players evenly over the ramp-up, stops them when the duration is over or
 * the action budget is spent, waits for every player to finish its current action (each call is
 * bounded by the scenario's callTimeoutMs, each wait by the run's stop), and prints a progress
 * line on stderr about once a second.
 */
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { TransportKind } from '../client';
import { SimPlayer, sdkFactory, type ClientFactory, type PlayerEnv } from './player';
import type { Scenario } from './scenario';
import { Stats } from './stats';

export interface RunOptions {
  scenario: Scenario;
  brokerListUrl: string;
  /** default tcp */
  transport?: TransportKind;
  /** PEM CA for tls/wss and an https BrokerList; default the system store */
  ca?: Buffer;
  factory?: ClientFactory;
  /** progress lines; default: stderr (one line per second, rewritten in place on a TTY) */
  progress?: (line: string) => void;
  progressIntervalMs?: number;
  /** stops the run early (Ctrl-C): players finish their current action */
  signal?: AbortSignal;
  /** client source addresses (see sources.ts); default: the OS picks */
  sources?: string[];
  /** random source (tests); default Math.random */
  random?: () => number;
}

export interface RunResult {
  runId: string;
  scenario: Scenario;
  stats: Stats;
  /** epoch ms of the first player's start, and of the last player's end */
  startedAtMs: number;
  endedAtMs: number;
  /** seconds from the first player's start until the stop (the measured window) */
  activeSeconds: number;
  /** late: still waiting for a sign-in turn when the run ended */
  players: { started: number; failed: number; late: number; peakPlaying: number };
  connectFailures: { count: number; samples: string[] };
  /** this process's event-loop delay during the run, ms: high values mean the client, not the cluster, added latency */
  clientLoopDelayMs: { p50: number; p99: number; max: number };
  /** why the run ended */
  endedBy: 'duration' | 'maxActions' | 'signal' | 'playersDone';
}

/** After the stop, players get this long (beyond callTimeoutMs) to finish; then the run reports anyway. */
const DRAIN_GRACE_MS = 5_000;

const LOOP_RESOLUTION_MS = 10;

class Clock {
  private readonly wakers = new Set<() => void>();
  stopped = false;

  sleep(ms: number): Promise<void> {
    if (this.stopped || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  /** Resolves when stop() is called. */
  untilStopped(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.wakers.add(resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const w of [...this.wakers]) w();
  }
}

/** One run's state: the players, the stop reason, the action budget. */
class Run {
  readonly runId = randomBytes(4).toString('hex');
  readonly stats = new Stats();
  readonly clock = new Clock();
  readonly startedAtMs = Date.now();
  readonly players: SimPlayer[] = [];
  readonly done: Promise<void>[] = [];
  readonly failures = { count: 0, samples: [] as string[] };
  readonly loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  endedBy: RunResult['endedBy'] = 'duration';
  peakPlaying = 0;
  private actionsLeft: number;
  /** sign-ins in flight, and the players waiting for a turn (accounts.signInConcurrency) */
  private signingIn = 0;
  private readonly signInQueue: Array<() => void> = [];

  constructor(private readonly opts: RunOptions) {
    this.actionsLeft = opts.scenario.maxActions ?? Number.MAX_SAFE_INTEGER;
  }

  stop(why: RunResult['endedBy']): void {
    if (this.clock.stopped) return;
    this.endedBy = why;
    this.clock.stop();
  }

  env(): PlayerEnv {
    const { opts, clock } = this;
    return {
      scenario: opts.scenario,
      stats: this.stats,
      runId: this.runId,
      brokerListUrl: opts.brokerListUrl,
      transport: opts.transport ?? 'tcp',
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      factory: opts.factory ?? sdkFactory,
      sources: opts.sources ?? [],
      running: () => !clock.stopped,
      takeAction: () => {
        if (this.actionsLeft <= 0) this.stop('maxActions');
        if (clock.stopped) return false;
        this.actionsLeft--;
        return true;
      },
      sleep: (ms) => clock.sleep(ms),
      signInTurn: (fn) => this.signInTurn(fn),
      onConnectFailure: (err) => {
        this.failures.count++;
        if (this.failures.samples.length < 5) this.failures.samples.push(err.message);
      },
      random: opts.random ?? Math.random,
    };
  }

  /**
   * Password hashing is slow on purpose, and the sso service bounds how many hashes run at once:
   * players sign in a few at a time, as they would arrive, instead of all timing out in its queue.
   */
  private async signInTurn<T>(fn: () => Promise<T>): Promise<T> {
    if (this.signingIn >= this.opts.scenario.accounts.signInConcurrency)
      await new Promise<void>((resolve) => this.signInQueue.push(resolve));
    this.signingIn++;
    try {
      return await fn();
    } finally {
      this.signingIn--;
      this.signInQueue.shift()?.();
    }
  }

  playing(): { playing: number; started: number } {
    const playing = this.players.filter((p) => p.state === 'playing').length;
    this.peakPlaying = Math.max(this.peakPlaying, playing);
    return { playing, started: this.players.length };
  }

  /** Starts players evenly over the ramp-up; resolves when the run stops (or every player ended). */
  async play(): Promise<void> {
    const { scenario } = this.opts;
    const env = this.env();
    const gapMs = scenario.players > 1 ? (scenario.rampUpSeconds * 1000) / scenario.players : 0;
    for (let i = 0; i < scenario.players && !this.clock.stopped; i++) {
      const p = new SimPlayer(env, i);
      this.players.push(p);
      this.done.push(p.run());
      await this.clock.sleep(gapMs);
    }
    const allDone = Promise.allSettled(this.done).then(() => this.stop('playersDone'));
    await Promise.race([this.clock.untilStopped(), allDone]);
  }

  /** The lateness of this process's timers (the histogram holds whole intervals: resolution + lateness). */
  loopDelay(): RunResult['clientLoopDelayMs'] {
    const late = (ns: number): number => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
    return { p50: late(this.loop.percentile(50)), p99: late(this.loop.percentile(99)), max: late(this.loop.max) };
  }
}

export async function runLoad(opts: RunOptions): Promise<RunResult> {
  const { scenario } = opts;
  const run = new Run(opts);
  const durationMs = (scenario.durationSeconds ?? Number.MAX_SAFE_INTEGER / 1000) * 1000;
  const deadline = setTimeout(() => run.stop('duration'), Math.min(durationMs, 2 ** 31 - 1));
  const onAbort = (): void => run.stop('signal');
  opts.signal?.addEventListener('abort', onAbort);
  run.loop.enable();
  const progress = startProgress(opts, run.stats, () => run.playing());
  try {
    await run.play();
    const activeSeconds = (Date.now() - run.startedAtMs) / 1000;
    run.loop.disable();
    await settle(run.done, scenario.callTimeoutMs * 2 + scenario.duel.matchWaitMs + DRAIN_GRACE_MS);
    progress.final();
    return {
      runId: run.runId,
      scenario,
      stats: run.stats,
      startedAtMs: run.startedAtMs,
      endedAtMs: Date.now(),
      activeSeconds,
      players: {
        started: run.players.length,
        failed: run.players.filter((p) => p.state === 'failed').length,
        late: run.players.filter((p) => p.state === 'late').length,
        peakPlaying: run.peakPlaying,
      },
      connectFailures: run.failures,
      clientLoopDelayMs: run.loopDelay(),
      endedBy: run.endedBy,
    };
  } finally {
    clearTimeout(deadline);
    run.loop.disable();
    progress.stop();
    opts.signal?.removeEventListener('abort', onAbort);
    run.clock.stop();
  }
}

/** Resolves when every promise settled or after `ms`, whichever is first. */
async function settle(all: Promise<void>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled(all), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

function startProgress(
  opts: RunOptions,
  stats: Stats,
  players: () => { playing: number; started: number },
): { final(): void; stop(): void } {
  const tty = opts.progress === undefined && process.stderr.isTTY === true;
  const write = opts.progress ?? ((line: string) => process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`));
  const t0 = performance.now();
  let last = { calls: 0, at: t0 };
  const tick = (): void => {
    const now = performance.now();
    const { calls, errors } = stats.totals();
    const rate = ((calls - last.calls) * 1000) / Math.max(1, now - last.at);
    last = { calls, at: now };
    const p = players();
    write(
      `[${((now - t0) / 1000).toFixed(0).padStart(4)}s] players ${p.playing}/${p.started} playing | ${rate.toFixed(0).padStart(5)} calls/s | ${calls} calls | ${errors} errors | ${stats.inFlight} in flight`,
    );
  };
  const timer = setInterval(tick, opts.progressIntervalMs ?? 1000);
  return {
    final: () => {
      const { calls, errors } = stats.totals();
      const secs = (performance.now() - t0) / 1000;
      write(
        `[${secs.toFixed(0).padStart(4)}s] done: ${calls} calls (${(calls / Math.max(secs, 0.001)).toFixed(0)} calls/s overall) | ${errors} errors | ${stats.inFlight} in flight`,
      );
    },
    stop: () => {
      clearInterval(timer);
      if (tty) process.stderr.write('\n');
    },
  };
}
