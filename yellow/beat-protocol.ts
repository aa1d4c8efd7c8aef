/**
 * Messages between a process's main thread and its heartbeat thread (beat-thread.ts,
 * beat-worker.ts). One heartbeat thread serves every provider of the process; `key` names one.
 */
import type { PinnedCurve } from './link';
import type { InstanceLoad } from './types';

export interface BeatProvider {
  instanceId: string;
  /** Yellow ROUTER endpoints, in the client's order (`link` below indexes them) */
  endpoints: string[];
  heartbeatMs: number;
  /** the main loop silent longer than this: stop beating, so the instance expires */
  stallLimitMs: number;
  load: InstanceLoad;
  curve?: PinnedCurve;
}

export interface BeatWorkerData {
  /** one BigInt64: Date.now() at the main loop's last turn, written by the main thread */
  progress: SharedArrayBuffer;
  logLevel: string;
}

export type BeatCommand =
  | { t: 'add'; key: string; provider: BeatProvider }
  | { t: 'load'; key: string; load: InstanceLoad }
  /** Yellow `link` acknowledged a registration with this epoch (undefined: not registered there) */
  | { t: 'registered'; key: string; link: number; epoch: number | undefined }
  | { t: 'remove'; key: string }
  /** the process is about to exit: close every socket and end the thread */
  | { t: 'shutdown' };

export type BeatReport =
  | { t: 'ready' }
  /** Yellow `link` answered `unknown` to a heartbeat sent under `epoch`: register there again */
  | { t: 'unknown'; key: string; link: number; epoch: number }
  /** Yellow `link` says the operator's draining flag on this instance is now `draining` */
  | { t: 'draining'; key: string; link: number; draining: boolean }
  /** the main loop has been silent for `stalledMs`, past the limit: beats stopped */
  | { t: 'hung'; key: string; stalledMs: number };
