/**
 * The final report: per method count, errors by kind, calls/s and latency percentiles (HDR); the
 * accounting of calls between the client and the brokers' own counters; the money check; and a
 * 1-second time series for the HTML charts. `buildReport` returns plain JSON (`--json`);
 * `formatText` renders it for a terminal or a README.
 */
import type * as hdr from 'hdr-histogram-js';
import { diffCounters, totalCalls, type BrokerCounters } from './cluster-metrics';
import type { MoneyCheck } from './money';
import type { RunResult } from './runner';
import type { Scenario } from './scenario';
import { newHistogram, type Accounting, type OutcomeKind } from './stats';

export interface Percentiles {
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface MethodRow extends Percentiles {
  method: string;
  count: number;
  ok: number;
  /** "game:CONFLICT", "broker:BUSY", "timeout:TIMEOUT", … → count */
  errors: Record<string, number>;
  callsPerSec: number;
  /** calls the brokers counted for this method (null without cluster counters) */
  brokerCounted: number | null;
}

export interface AccountingReport {
  /** calls that left the client (issued − refused locally by the SDK) */
  sent: number;
  notSent: number;
  /** a reply or an error came back */
  answered: number;
  /** timed out or lost with a connection: the broker may or may not have counted them */
  indeterminate: number;
  /** Σ brokers' noon_calls_total + call refusals in noon_dropped_total, after − before; null when not scraped */
  brokerCounted: number | null;
  brokerOutcomes: Record<string, number>;
  /**
   * Calls nobody can explain: the client's own books (sent − answered − indeterminate), plus
   * answers the brokers did not count, plus calls the brokers counted that were never sent.
   * Must be 0. Null without cluster counters.
   */
  unaccounted: number | null;
}

export interface SeriesPoint {
  /** seconds since the run started */
  t: number;
  calls: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
}

export interface Report {
  scenario: {
    name: string;
    players: number;
    rampUpSeconds: number;
    durationSeconds: number | null;
    maxActions: number | null;
    thinkTimeMs: { min: number; max: number };
    mix: Scenario['mix'];
  };
  runId: string;
  startedAt: string;
  activeSeconds: number;
  endedBy: string;
  players: RunResult['players'];
  connectFailures: RunResult['connectFailures'];
  clientLoopDelayMs: RunResult['clientLoopDelayMs'];
  /** every answered call of every method */
  totals: Percentiles & { calls: number; errors: number; callsPerSec: number };
  /** the same without Sso:register/login (scrypt is slow on purpose) and the SDK's Events:subscribe */
  gameCalls: Percentiles & { calls: number };
  errorsByKind: Partial<Record<OutcomeKind, number>>;
  /** unexpected errors (kind 'other'), the first few */
  otherErrors: string[];
  methods: MethodRow[];
  accounting: AccountingReport;
  cluster: { brokers: string[]; error: string | null };
  money: MoneyCheck | null;
  pushes: Record<string, number>;
  series: SeriesPoint[];
}

const SETUP_METHODS = new Set(['Sso:register', 'Sso:login', 'Events:subscribe']);

const ms = (us: number): number => Math.round(us) / 1000;

export function percentiles(h: hdr.Histogram): Percentiles {
  if (h.totalCount === 0) return { p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0 };
  return {
    p50Ms: ms(h.getValueAtPercentile(50)),
    p90Ms: ms(h.getValueAtPercentile(90)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    maxMs: ms(h.maxValue),
  };
}

/** Reconciles the client's books with the brokers' counters (see AccountingReport.unaccounted). */
export function account(acct: Accounting, broker: BrokerCounters | undefined): AccountingReport {
  const sent = acct.issued - acct.notSent;
  const base = { sent, notSent: acct.notSent, answered: acct.answered, indeterminate: acct.indeterminate };
  if (!broker) return { ...base, brokerCounted: null, brokerOutcomes: {}, unaccounted: null };
  const brokerCounted = totalCalls(broker);
  const brokerOutcomes: Record<string, number> = {};
  for (const m of broker.calls.values()) for (const [o, n] of m) brokerOutcomes[o] = (brokerOutcomes[o] ?? 0) + n;
  for (const [r, n] of broker.refused) brokerOutcomes[`refused:${r}`] = n;
  const clientGap = Math.abs(sent - acct.answered - acct.indeterminate);
  const unaccounted = clientGap + Math.max(0, acct.answered - brokerCounted) + Math.max(0, brokerCounted - sent);
  return { ...base, brokerCounted, brokerOutcomes, unaccounted };
}

function methodRows(run: RunResult, broker: BrokerCounters | undefined): MethodRow[] {
  const secs = Math.max(run.activeSeconds, 0.001);
  const rows: MethodRow[] = [];
  for (const [method, m] of [...run.stats.methods].sort(([a], [b]) => a.localeCompare(b))) {
    const errors: Record<string, number> = {};
    for (const [k, n] of m.outcomes) if (k !== 'ok') errors[k] = n;
    const counted = broker ? [...(broker.calls.get(method)?.values() ?? [])].reduce((a, b) => a + b, 0) : null;
    rows.push({
      method,
      count: m.count,
      ok: m.outcomes.get('ok') ?? 0,
      errors,
      callsPerSec: round(m.count / secs),
      ...percentiles(m.latency),
      brokerCounted: counted,
    });
  }
  return rows;
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function merged(run: RunResult, keep: (method: string) => boolean): hdr.Histogram {
  const h = newHistogram();
  for (const [name, m] of run.stats.methods) if (keep(name)) h.add(m.latency);
  return h;
}

export interface ClusterView {
  before?: BrokerCounters;
  after?: BrokerCounters;
  brokers: string[];
  error?: string;
}

export function buildReport(run: RunResult, cluster: ClusterView, money: MoneyCheck | null): Report {
  const broker = cluster.before && cluster.after ? diffCounters(cluster.before, cluster.after) : undefined;
  const all = merged(run, () => true);
  const game = merged(run, (m) => !SETUP_METHODS.has(m));
  const errorsByKind: Partial<Record<OutcomeKind, number>> = {};
  let calls = 0;
  let errors = 0;
  for (const m of run.stats.methods.values()) {
    calls += m.count;
    for (const [k, n] of m.outcomes) {
      if (k === 'ok') continue;
      errors += n;
      const kind = k.split(':')[0] as OutcomeKind;
      errorsByKind[kind] = (errorsByKind[kind] ?? 0) + n;
    }
  }
  const s = run.scenario;
  const report: Report = {
    scenario: {
      name: s.name,
      players: s.players,
      rampUpSeconds: s.rampUpSeconds,
      durationSeconds: s.durationSeconds ?? null,
      maxActions: s.maxActions ?? null,
      thinkTimeMs: s.thinkTimeMs,
      mix: s.mix,
    },
    runId: run.runId,
    startedAt: new Date(run.startedAtMs).toISOString(),
    activeSeconds: round(run.activeSeconds, 2),
    endedBy: run.endedBy,
    players: run.players,
    connectFailures: run.connectFailures,
    clientLoopDelayMs: {
      p50: round(run.clientLoopDelayMs.p50, 2),
      p99: round(run.clientLoopDelayMs.p99, 2),
      max: round(run.clientLoopDelayMs.max, 2),
    },
    totals: { calls, errors, callsPerSec: round(calls / Math.max(run.activeSeconds, 0.001)), ...percentiles(all) },
    gameCalls: { calls: game.totalCount, ...percentiles(game) },
    errorsByKind,
    otherErrors: [...run.stats.otherSamples],
    methods: methodRows(run, broker),
    accounting: account(run.stats.acct, broker),
    cluster: { brokers: cluster.brokers, error: cluster.error ?? null },
    money,
    pushes: Object.fromEntries(run.stats.pushes),
    series: run.stats.series.map((b, t) => ({ t, calls: b.calls, errors: b.errors, ...pick(percentiles(b.latency)) })),
  };
  all.destroy();
  game.destroy();
  return report;
}

function pick(p: Percentiles): { p50Ms: number; p99Ms: number } {
  return { p50Ms: p.p50Ms, p99Ms: p.p99Ms };
}
