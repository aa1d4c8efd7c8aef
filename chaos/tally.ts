/**
 * Jepsen-style counts per scenario and the verdict against the targets. Pure: it folds the call
 * records, the writes found in Postgres, Yellow's down events and the processes' exits into counts,
 * then names every target a scenario missed.
 */
import type { Scenario } from './scenarios';

/** acknowledged: the cluster answered (a game refusal too); failed: a clear error, not applied; unknown: may or may not have been applied. */
export type Outcome = 'ack' | 'failed' | 'unknown';

export interface CallRecord {
  /** index of the scenario the call started in */
  scenario: number;
  method: string;
  startedAt: number;
  endedAt: number;
  outcome: Outcome;
  /** the error's code (failed, unknown, and game refusals among the acknowledged); '' for success */
  code: string;
  /** a write whose effect Postgres must show when acknowledged: its id (user + idempotency key) */
  write?: string;
  /** for a failed or unknown call: the error's message (the broker's names the instance and the trace) */
  detail?: string;
}

/** One call of a scenario that was not acknowledged: what the output lists so a miss can be traced. */
export interface TroubledCall {
  method: string;
  outcome: Outcome;
  code: string;
  /** ms from the fault to the call's start, and how long it took */
  atMs: number;
  ms: number;
  /** a write: whether Postgres shows it (a failed one that does is failed-but-applied) */
  applied?: boolean;
  detail: string;
}

/** The failed and unknown calls of scenario `index`, in the order they started. */
export function troubledCalls(
  index: number,
  calls: readonly CallRecord[],
  applied: ReadonlySet<string>,
  startedAt: number,
): TroubledCall[] {
  return calls
    .filter((r) => r.scenario === index && r.outcome !== 'ack')
    .sort((a, b) => a.startedAt - b.startedAt)
    .map((r) => ({
      method: r.method,
      outcome: r.outcome,
      code: r.code,
      atMs: r.startedAt - startedAt,
      ms: r.endedAt - r.startedAt,
      ...(r.write === undefined ? {} : { applied: applied.has(r.write) }),
      detail: r.detail ?? '',
    }));
}

export interface Death {
  instanceId: string;
  role: string;
  at: number;
}

export interface Crash {
  name: string;
  at: number;
  exit: string;
}

export interface ScenarioCounts {
  attempted: number;
  acknowledged: number;
  /** acknowledged calls that were game refusals (INSUFFICIENT_FUNDS, …), by code */
  refused: Record<string, number>;
  failed: number;
  failedByCode: Record<string, number>;
  unknown: number;
  unknownByCode: Record<string, number>;
  /** acknowledged writes absent from Postgres */
  lost: number;
  /** writes reported failed that Postgres nevertheless shows */
  failedButApplied: number;
  /** outcome-unknown writes that did land (for information) */
  unknownApplied: number;
  invariantViolations: number;
  falseDeaths: string[];
  crashes: string[];
  /** from the fault to the end of the last call that was not acknowledged; 0 when every call was */
  recoverMs: number;
}

/** What the tool measured about one scenario besides the calls. */
export interface ScenarioFacts {
  startedAt: number;
  /** instances the fault took down on purpose: their down events are expected */
  expectedDown: ReadonlySet<string>;
  invariantViolations: number;
}

const bump = (m: Record<string, number>, k: string): void => {
  m[k] = (m[k] ?? 0) + 1;
};

/**
 * Counts for scenario `index`: its calls, its deaths (down events while it ran, `[from, to)`) and
 * crashes, checked against `applied` (the writes Postgres shows).
 */
export function countScenario(
  index: number,
  calls: readonly CallRecord[],
  applied: ReadonlySet<string>,
  deaths: readonly Death[],
  crashes: readonly Crash[],
  facts: ScenarioFacts & { endedAt: number },
): ScenarioCounts {
  const c: ScenarioCounts = {
    attempted: 0,
    acknowledged: 0,
    refused: {},
    failed: 0,
    failedByCode: {},
    unknown: 0,
    unknownByCode: {},
    lost: 0,
    failedButApplied: 0,
    unknownApplied: 0,
    invariantViolations: facts.invariantViolations,
    falseDeaths: [],
    crashes: [],
    recoverMs: 0,
  };
  let lastBad = 0;
  for (const r of calls) {
    if (r.scenario !== index) continue;
    c.attempted++;
    const landed = r.write !== undefined && applied.has(r.write);
    if (r.outcome === 'ack') {
      c.acknowledged++;
      if (r.code !== '') bump(c.refused, r.code);
      else if (r.write !== undefined && !landed) c.lost++;
      continue;
    }
    lastBad = Math.max(lastBad, r.endedAt);
    if (r.outcome === 'failed') {
      c.failed++;
      bump(c.failedByCode, r.code);
      if (landed) c.failedButApplied++;
    } else {
      c.unknown++;
      bump(c.unknownByCode, r.code);
      if (landed) c.unknownApplied++;
    }
  }
  c.recoverMs = lastBad === 0 ? 0 : Math.max(0, lastBad - facts.startedAt);
  const during = (at: number): boolean => at >= facts.startedAt && at < facts.endedAt;
  for (const d of deaths)
    if (during(d.at) && !facts.expectedDown.has(d.instanceId)) c.falseDeaths.push(`${d.role} ${d.instanceId}`);
  for (const x of crashes) if (during(x.at)) c.crashes.push(`${x.name} (${x.exit})`);
  return c;
}

/** A code the tool itself gives a failure it could not name: such a failure is not a clear error. */
export const NO_CODE = 'NO_CODE';

/** Every target the scenario missed, in words; empty when it met them all. */
export function missedTargets(s: Scenario, c: ScenarioCounts): string[] {
  const out: string[] = [];
  if (c.attempted === 0) out.push('no call was attempted: the workload did not run');
  if (c.lost > 0) out.push(`${c.lost} acknowledged write(s) lost (absent from Postgres)`);
  if (c.invariantViolations > 0) out.push(`${c.invariantViolations} money invariant violation(s)`);
  if (c.crashes.length > 0) out.push(`${c.crashes.length} crash(es): ${c.crashes.join(', ')}`);
  if (c.falseDeaths.length > 0) out.push(`${c.falseDeaths.length} false death(s): ${c.falseDeaths.join(', ')}`);
  if (c.failedButApplied > 0) out.push(`${c.failedButApplied} call(s) reported failed were applied`);
  const unclear = c.failedByCode[NO_CODE] ?? 0;
  if (unclear > 0) out.push(`${unclear} call(s) failed without an error code`);
  if (!s.failedAllowed && c.failed > 0) out.push(`${c.failed} failed call(s) (${codes(c.failedByCode)}); none allowed`);
  if (!s.unknownAllowed && c.unknown > 0)
    out.push(`${c.unknown} outcome-unknown call(s) (${codes(c.unknownByCode)}); allowed only when something is killed`);
  return out;
}

export function codes(m: Record<string, number>): string {
  return Object.entries(m)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}
