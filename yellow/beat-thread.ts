/**
 * The main thread's side of the heartbeat thread (beat-worker.ts): one worker per process,
 * started on first use, shared by every provider of the process, never keeping the process
 * alive. The main loop writes the time of its last turn into shared memory a few times per
 * interval; the worker reads it to tell a busy loop (still beating, `stalledMs` reported) from a
 * hung one (beats stop after the stall limit).
 *
 * Until the worker says it is ready (or if it cannot start at all), `ready` is false and the
 * Yellow client beats from the main thread as before.
 */
import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../shared/log';
import type { BeatCommand, BeatProvider, BeatReport, BeatWorkerData } from './beat-protocol';
import type { InstanceLoad } from './types';

type Listener = (r: BeatReport) => void;

/** How often the main loop stamps its progress (ms); also the resolution of `stalledMs`. */
const PROGRESS_MS = 50;

export class BeatThread {
  private static shared?: BeatThread;
  private readonly worker?: Worker;
  private readonly progress = new BigInt64Array(new SharedArrayBuffer(8));
  private readonly listeners = new Map<string, Listener>();
  private readyValue = false;
  private exited = false;
  private nextKey = 1;
  private settleRunning: (running: boolean) => void = () => undefined;
  /** Resolves true once the worker runs, false if it could not start or died. */
  readonly running = new Promise<boolean>((resolve) => (this.settleRunning = resolve));

  /** The process's heartbeat thread, if one was started: resolves when it runs (tests wait for it). */
  static whenRunning(): Promise<boolean> {
    return BeatThread.shared?.running ?? Promise.resolve(false);
  }

  /**
   * Ends the process's heartbeat thread, if one runs, before the process exits: the thread closes
   * its sockets and ends by itself (zeromq.js aborts a process that exits while a thread still
   * has sockets); past `deadlineMs` it is terminated.
   */
  static async shutdown(deadlineMs = 2000): Promise<void> {
    const t = BeatThread.shared;
    BeatThread.shared = undefined;
    const w = t?.worker;
    if (!w || t.exited) return;
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.postMessage({ t: 'shutdown' } satisfies BeatCommand);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), deadlineMs)));
    try {
      if ((await Promise.race([exited, late])) === 'late') await w.terminate();
    } finally {
      clearTimeout(timer);
    }
  }

  /** The process's heartbeat thread, started on first use. */
  static get(logger: Logger): BeatThread {
    BeatThread.shared ??= new BeatThread(logger);
    return BeatThread.shared;
  }

  private constructor(private readonly logger: Logger) {
    this.stamp();
    setInterval(() => this.stamp(), PROGRESS_MS).unref();
    try {
      this.worker = startWorker({ progress: this.progress.buffer as SharedArrayBuffer, logLevel: logger.level });
    } catch (e) {
      logger.warn({ err: e }, 'heartbeat thread did not start; heartbeats go from the main loop');
      this.settleRunning(false);
      return;
    }
    this.worker.on('message', (r: BeatReport) => this.onReport(r));
    this.worker.on('error', (e) => {
      this.readyValue = false;
      this.settleRunning(false);
      this.logger.warn({ err: e }, 'heartbeat thread failed; heartbeats go from the main loop');
    });
    this.worker.on('exit', () => {
      this.exited = true;
      this.readyValue = false;
      this.settleRunning(false);
    });
    // After the listeners: a 'message' listener added after unref() refs the worker's port again
    // (nodejs/node#53036), and a finished process would then never exit.
    this.worker.unref();
  }

  /** True once the worker runs: providers added now are beaten by it. */
  get ready(): boolean {
    return this.readyValue;
  }

  /** Starts beating for a provider; reports about it go to `listener`. Returns its key. */
  add(provider: BeatProvider, listener: Listener): string {
    const key = `p${this.nextKey++}`;
    this.listeners.set(key, listener);
    this.send({ t: 'add', key, provider });
    return key;
  }

  load(key: string, load: InstanceLoad): void {
    this.send({ t: 'load', key, load });
  }

  registered(key: string, link: number, epoch: number | undefined): void {
    this.send({ t: 'registered', key, link, epoch });
  }

  remove(key: string): void {
    this.listeners.delete(key);
    this.send({ t: 'remove', key });
  }

  private stamp(): void {
    Atomics.store(this.progress, 0, BigInt(Date.now()));
  }

  private send(cmd: BeatCommand): void {
    this.worker?.postMessage(cmd);
  }

  private onReport(r: BeatReport): void {
    if (r.t === 'ready') {
      this.readyValue = true;
      this.settleRunning(true);
      for (const fn of this.listeners.values()) fn(r);
      return;
    }
    this.listeners.get(r.key)?.(r);
  }
}

/**
 * The worker runs this module's sibling with the same extension: compiled `.js` in a package,
 * TypeScript through tsx in a source checkout (a worker does not inherit a loader registered
 * with `require`, so it registers tsx itself).
 */
function startWorker(data: BeatWorkerData): Worker {
  const ext = extname(__filename);
  const file = join(__dirname, `beat-worker${ext}`);
  const prelude = ext === '.ts' ? `require(${JSON.stringify(require.resolve('tsx/cjs'))});` : '';
  return new Worker(`${prelude}require(${JSON.stringify(file)});`, { eval: true, workerData: data });
}
