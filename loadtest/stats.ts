/**
 * What the simulated players saw, call by call: per method an outcome count and an HDR latency
 * histogram (microseconds, 3 significant digits), per second of the run the completions, errors
 * and a latency histogram for the time series, and the accounting of every call: issued, sent
 * (left this process), answered (a reply or an error from the cluster) or indeterminate (timed out
 * or lost with the connection: the broker may still have counted it).
 */
import * as hdr from 'hdr-histogram-js';
import * as thrift from 'thrift';
import { ClientError } from '../client';
import { ErrorCode, GameError } from '../shared/protocol';

/** ok / game error (IDL GameError) / broker error (TApplicationException) / timeout / disconnect / not sent (local refusal) / other. */
export type OutcomeKind = 'ok' | 'game' | 'broker' | 'timeout' | 'disconnect' | 'notSent' | 'other';

export interface Outcome {
  kind: OutcomeKind;
  /** the error code (GameError code name, broker code, SDK code); '' for ok */
  code: string;
  /** for 'other': the error's message (kept as a sample for the report) */
  detail?: string;
}

/** Highest latency tracked: 10 minutes in µs (anything longer is clamped). */
const MAX_US = 600_000_000;
/** Series buckets kept: 1 per second for at most this many seconds. */
export const MAX_SERIES_SECONDS = 7200;
const BROKER_CODE = /^([A-Z_]{3,32}): /;

export function newHistogram(digits: 2 | 3 = 3): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_US,
    numberOfSignificantValueDigits: digits,
    autoResize: false,
    useWebAssembly: false,
  });
}

/** Classifies what a call rejected with. */
export function classify(err: unknown): Outcome {
  if (err instanceof ClientError) {
    if (err.code === 'TIMEOUT') return { kind: 'timeout', code: err.code };
    if (err.code === 'CONNECTION_LOST' || err.code === 'PROTOCOL') return { kind: 'disconnect', code: err.code };
    return { kind: 'notSent', code: err.code };
  }
  if (err instanceof GameError)
    return { kind: 'game', code: err.code === undefined ? 'UNKNOWN' : (ErrorCode[err.code] ?? String(err.code)) };
  if (err instanceof thrift.Thrift.TApplicationException)
    return { kind: 'broker', code: BROKER_CODE.exec(err.message)?.[1] ?? 'UNKNOWN' };
  return {
    kind: 'other',
    code: err instanceof Error ? err.name : typeof err,
    detail: err instanceof Error ? err.message : String(err),
  };
}

export interface MethodStats {
  count: number;
  /** outcome key ("ok", "game:CONFLICT", "broker:BUSY", "timeout:TIMEOUT", …) → count */
  outcomes: Map<string, number>;
  /** latency of answered calls (ok, game, broker, other), µs */
  latency: hdr.Histogram;
}

export interface SecondBucket {
  calls: number;
  errors: number;
  latency: hdr.Histogram;
}

export interface Accounting {
  /** calls the players made through the SDK */
  issued: number;
  /** of those, refused locally by the SDK before anything was written (never reached a broker) */
  notSent: number;
  /** a reply or an error came back from the cluster */
  answered: number;
  /** timed out or lost with the connection: the cluster may or may not have seen it */
  indeterminate: number;
}

export class Stats {
  readonly methods = new Map<string, MethodStats>();
  readonly series: SecondBucket[] = [];
  readonly acct: Accounting = { issued: 0, notSent: 0, answered: 0, indeterminate: 0 };
  /** pushes received by kind (duelUpdated, chatMessage, …) */
  readonly pushes = new Map<string, number>();
  /** the first few unexpected errors ('other'), "method: Name: message" */
  readonly otherSamples: string[] = [];
  inFlight = 0;

  constructor(readonly startedAt: number = performance.now()) {}

  /** Call before sending. */
  begin(): void {
    this.acct.issued++;
    this.inFlight++;
  }

  /** Call once per begin(), when the call settled. */
  end(method: string, startedAt: number, outcome: Outcome, now: number = performance.now()): void {
    this.inFlight--;
    const m = this.method(method);
    m.count++;
    const key = outcome.kind === 'ok' ? 'ok' : `${outcome.kind}:${outcome.code}`;
    m.outcomes.set(key, (m.outcomes.get(key) ?? 0) + 1);
    if (outcome.kind === 'other' && this.otherSamples.length < 5)
      this.otherSamples.push(`${method}: ${outcome.code}: ${outcome.detail ?? ''}`);
    if (outcome.kind === 'notSent') {
      this.acct.notSent++;
      return;
    }
    const answered = outcome.kind !== 'timeout' && outcome.kind !== 'disconnect';
    if (!answered) {
      this.acct.indeterminate++;
      this.bucket(now).errors++;
      return;
    }
    this.acct.answered++;
    const us = Math.min(MAX_US, Math.max(1, Math.round((now - startedAt) * 1000)));
    m.latency.recordValue(us);
    const b = this.bucket(now);
    b.calls++;
    if (outcome.kind !== 'ok') b.errors++;
    b.latency.recordValue(us);
  }

  push(name: string): void {
    this.pushes.set(name, (this.pushes.get(name) ?? 0) + 1);
  }

  /** Calls and errors completed so far (for the progress line). */
  totals(): { calls: number; errors: number } {
    let calls = 0;
    let errors = 0;
    for (const m of this.methods.values()) {
      calls += m.count;
      for (const [k, n] of m.outcomes) if (k !== 'ok') errors += n;
    }
    return { calls, errors };
  }

  destroy(): void {
    for (const m of this.methods.values()) m.latency.destroy();
    for (const b of this.series) b.latency.destroy();
  }

  private method(name: string): MethodStats {
    let m = this.methods.get(name);
    if (!m) {
      m = { count: 0, outcomes: new Map(), latency: newHistogram() };
      this.methods.set(name, m);
    }
    return m;
  }

  private bucket(now: number): SecondBucket {
    const i = Math.min(MAX_SERIES_SECONDS - 1, Math.max(0, Math.floor((now - this.startedAt) / 1000)));
    while (this.series.length <= i) this.series.push({ calls: 0, errors: 0, latency: newHistogram(2) });
    return this.series[i] as SecondBucket;
  }
}
