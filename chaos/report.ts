/** The chaos run's output: one block per scenario, then the verdict. Pure text from the counts. */
import { endings, missedGameTargets, type GameCounts } from './games-tally';
import type { Scenario } from './scenarios';
import { codes, missedTargets, type ScenarioCounts, type TroubledCall } from './tally';

export interface ScenarioResult {
  scenario: Scenario;
  counts: ScenarioCounts;
  /** how long the scenario ran, fault to a whole cluster again */
  durationMs: number;
  /** what the fault itself measured (e.g. "declared down after 2.4 s") */
  notes: string[];
  missed: string[];
  /** the rooms' and duels' counts (absent when the run had none) */
  games?: GameCounts;
  /** every call that was not acknowledged (failed or unknown), with its method, timing and error */
  calls?: TroubledCall[];
}

export function resultOf(
  scenario: Scenario,
  counts: ScenarioCounts,
  durationMs: number,
  notes: string[],
  extraMisses: string[] = [],
  games?: GameCounts,
  calls?: TroubledCall[],
): ScenarioResult {
  const missed = [
    ...missedTargets(scenario, counts),
    ...(games ? missedGameTargets(scenario, games) : []),
    ...extraMisses,
  ];
  return {
    scenario,
    counts,
    durationMs,
    notes,
    missed,
    ...(games ? { games } : {}),
    ...(calls && calls.length > 0 ? { calls } : {}),
  };
}

/** The text output lists this many troubled calls per scenario; --json has them all. */
const CALLS_LISTED = 12;

/** One line per failed or unknown call: when it started after the fault, how long, what it got. */
export function callLines(calls: readonly TroubledCall[]): string[] {
  const lines = calls.slice(0, CALLS_LISTED).map((c) => {
    const write = c.applied === undefined ? '' : c.applied ? ' (applied)' : ' (not applied)';
    return `     call +${secs(c.atMs)} for ${secs(c.ms)}: ${c.method} ${c.outcome} ${c.code}${write}: ${c.detail}`;
  });
  if (calls.length > CALLS_LISTED) lines.push(`     … ${calls.length - CALLS_LISTED} more (--json lists every one)`);
  return lines;
}

/** The rooms and duels lines of a scenario block. */
export function gameLines(g: GameCounts): string[] {
  const r = g.rooms;
  const d = g.duels;
  return [
    `     rooms: says acknowledged ${r.acked}, received once by every member ${r.ackedToAll}` +
      `  deliveries ${r.delivered} of ${r.deliveriesExpected}  missing ${r.missing}  doubled ${r.doubled}` +
      `  lost ${r.lost}  stored twice ${r.storedTwice}` +
      (r.unknownStored > 0 ? `  (${r.unknownStored} outcome-unknown say(s) stored)` : ''),
    `     duels: started ${d.started}  finished ${d.finished}` +
      (d.started > 0 ? ` (${endings(d.byEnd)})` : '') +
      `  STATE_LOST ${d.byEnd.STATE_LOST ?? 0}`,
  ];
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const withCodes = (n: number, m: Record<string, number>): string => (n === 0 ? '0' : `${n} (${codes(m)})`);

export function scenarioText(r: ScenarioResult): string {
  const c = r.counts;
  const refused = Object.keys(c.refused).length === 0 ? '' : `, of which game refusals: ${codes(c.refused)}`;
  const lines = [
    `${r.missed.length === 0 ? 'ok  ' : 'MISS'} ${r.scenario.name} (${secs(r.durationMs)})`,
    `     attempted ${c.attempted}  acknowledged ${c.acknowledged}${refused}`,
    `     failed ${withCodes(c.failed, c.failedByCode)}  unknown ${withCodes(c.unknown, c.unknownByCode)}` +
      (c.unknown > 0 ? ` (${c.unknownApplied} of them applied)` : ''),
    `     lost ${c.lost}  failed-but-applied ${c.failedButApplied}  invariant violations ${c.invariantViolations}` +
      `  false deaths ${c.falseDeaths.length}  crashes ${c.crashes.length}  recovered in ${secs(c.recoverMs)}`,
    ...(r.games ? gameLines(r.games) : []),
    ...r.notes.map((n) => `     ${n}`),
    ...callLines(r.calls ?? []),
    ...r.missed.map((m) => `     missed: ${m}`),
  ];
  return lines.join('\n');
}

export function totals(results: readonly ScenarioResult[]): ScenarioCounts {
  const sum = (f: (c: ScenarioCounts) => number): number => results.reduce((a, r) => a + f(r.counts), 0);
  const merge = (f: (c: ScenarioCounts) => Record<string, number>): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const r of results) for (const [k, n] of Object.entries(f(r.counts))) out[k] = (out[k] ?? 0) + n;
    return out;
  };
  return {
    attempted: sum((c) => c.attempted),
    acknowledged: sum((c) => c.acknowledged),
    refused: merge((c) => c.refused),
    failed: sum((c) => c.failed),
    failedByCode: merge((c) => c.failedByCode),
    unknown: sum((c) => c.unknown),
    unknownByCode: merge((c) => c.unknownByCode),
    lost: sum((c) => c.lost),
    failedButApplied: sum((c) => c.failedButApplied),
    unknownApplied: sum((c) => c.unknownApplied),
    invariantViolations: sum((c) => c.invariantViolations),
    falseDeaths: results.flatMap((r) => r.counts.falseDeaths),
    crashes: results.flatMap((r) => r.counts.crashes),
    recoverMs: Math.max(0, ...results.map((r) => r.counts.recoverMs)),
  };
}

export function verdictText(results: readonly ScenarioResult[], extra: readonly string[] = []): string {
  const t = totals(results);
  const missed = results.filter((r) => r.missed.length > 0);
  const head =
    missed.length === 0 && extra.length === 0
      ? `verdict: PASS, ${results.length} of ${results.length} scenarios met every target`
      : `verdict: FAIL, ${missed.length} of ${results.length} scenarios missed a target`;
  const said = results.reduce((n, r) => n + (r.games?.rooms.acked ?? 0), 0);
  const toAll = results.reduce((n, r) => n + (r.games?.rooms.ackedToAll ?? 0), 0);
  const started = results.reduce((n, r) => n + (r.games?.duels.started ?? 0), 0);
  const finished = results.reduce((n, r) => n + (r.games?.duels.finished ?? 0), 0);
  return [
    head,
    `  all scenarios: attempted ${t.attempted}, acknowledged ${t.acknowledged}, failed ${t.failed}, unknown ${t.unknown}, lost ${t.lost}`,
    ...(results.some((r) => r.games)
      ? [
          `  rooms: ${toAll} of ${said} acknowledged says received once by every member; duels: ${finished} of ${started} finished`,
        ]
      : []),
    ...missed.map((r) => `  ${r.scenario.name}: ${r.missed.join('; ')}`),
    ...extra.map((e) => `  ${e}`),
  ].join('\n');
}
