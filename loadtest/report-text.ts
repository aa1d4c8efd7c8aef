/** The report as text: a header, the per-method table, the accounting and the money check. */
import { moneyFailed } from './money';
import type { Report } from './report';
import { verdictLines, verdictOf } from './verdict';

function pad(s: string | number, n: number, left = false): string {
  const t = String(s);
  return left ? t.padEnd(n) : t.padStart(n);
}

function fmt(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(2);
}

function errorsCell(errors: Record<string, number>): string {
  const parts = Object.entries(errors)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k}=${n}`);
  return parts.length === 0 ? '-' : parts.join(' ');
}

function table(r: Report): string[] {
  const head = `${pad('method', 22, true)} ${pad('count', 7)} ${pad('ok', 7)} ${pad('calls/s', 8)} ${pad('p50 ms', 8)} ${pad('p90 ms', 8)} ${pad('p99 ms', 8)} ${pad('max ms', 8)} ${pad('brokers', 8)}  errors`;
  const lines = [head, '-'.repeat(head.length + 8)];
  for (const m of r.methods) {
    lines.push(
      `${pad(m.method, 22, true)} ${pad(m.count, 7)} ${pad(m.ok, 7)} ${pad(m.callsPerSec.toFixed(1), 8)} ${pad(fmt(m.p50Ms), 8)} ${pad(fmt(m.p90Ms), 8)} ${pad(fmt(m.p99Ms), 8)} ${pad(fmt(m.maxMs), 8)} ${pad(m.brokerCounted ?? '?', 8)}  ${errorsCell(m.errors)}`,
    );
  }
  const t = r.totals;
  lines.push(
    `${pad('ALL', 22, true)} ${pad(t.calls, 7)} ${pad(t.calls - t.errors, 7)} ${pad(t.callsPerSec.toFixed(1), 8)} ${pad(fmt(t.p50Ms), 8)} ${pad(fmt(t.p90Ms), 8)} ${pad(fmt(t.p99Ms), 8)} ${pad(fmt(t.maxMs), 8)} ${pad(r.accounting.brokerCounted ?? '?', 8)}  ${errorsCell(r.errorsByKind as Record<string, number>)}`,
  );
  return lines;
}

function accounting(r: Report): string[] {
  const a = r.accounting;
  const lines = [
    "Accounting (client vs the brokers' own noon_calls_total):",
    `  calls sent by the client        ${a.sent}${a.notSent > 0 ? `  (+${a.notSent} refused locally by the SDK, never sent)` : ''}`,
    `  calls counted by the brokers    ${a.brokerCounted ?? `? (${r.cluster.error ?? 'not scraped'})`}`,
    `  replies + errors received       ${a.answered}`,
    `  indeterminate (timeout/drop)    ${a.indeterminate}`,
    `  unaccounted                     ${a.unaccounted ?? '?'}${a.unaccounted === 0 ? '  OK' : a.unaccounted === null ? '' : '  MISMATCH'}`,
  ];
  if (a.unaccounted !== null && a.unaccounted > 0)
    lines.push("  (brokers count every client's calls: other traffic on the cluster during the run shows up here too)");
  const outcomes = Object.entries(a.brokerOutcomes)
    .map(([k, n]) => `${k}=${n}`)
    .join(' ');
  if (outcomes) lines.push(`  broker outcomes                 ${outcomes}`);
  return lines;
}

function money(r: Report): string[] {
  const m = r.money;
  if (!m) return ['Money check: skipped (no --pg-url / NOON_PG_URL)'];
  if (m.error) return [`Money check: ERROR ${m.error}`];
  const verdict = moneyFailed(m) ? 'FAILED' : 'OK';
  const lines = [
    `Money check: ${verdict} — ${m.players} players, ${m.ledgerRows} ledger rows; balance ≠ ledger sum: ${m.mismatched}; negative balances: ${m.negative}; credits without a source: ${m.unsourcedCredits}`,
    `  duels: ${m.duels} moved money, ${m.duelsUnbalanced} not zero-sum; ${m.stakesHeld} soft still held in escrow`,
  ];
  for (const v of m.violations) lines.push(`  ${v}`);
  return lines;
}

export function formatText(r: Report): string {
  const s = r.scenario;
  const limit = [
    s.durationSeconds !== null ? `${s.durationSeconds} s` : '',
    s.maxActions !== null ? `≤ ${s.maxActions} actions` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const g = r.gameCalls;
  const lines = [
    `noon loadtest — scenario "${s.name}": ${s.players} players, ramp-up ${s.rampUpSeconds} s, ${limit}, think ${s.thinkTimeMs.min}-${s.thinkTimeMs.max} ms`,
    `run ${r.runId} at ${r.startedAt}: ${r.activeSeconds} s (ended by ${r.endedBy}); players started ${r.players.started}, failed ${r.players.failed}${r.players.late > 0 ? `, still waiting to sign in at the end ${r.players.late}` : ''}, peak playing ${r.players.peakPlaying}; connect failures ${r.connectFailures.count}${r.connectFailures.samples.length ? ` (${r.connectFailures.samples[0]})` : ''}`,
    `brokers scraped: ${r.cluster.brokers.length > 0 ? r.cluster.brokers.join(', ') : 'none'}`,
    '',
    ...table(r),
    '',
    ...r.otherErrors.map((e) => `unexpected error: ${e}`),
    `game calls (without Sso:register/login, Events:subscribe): ${g.calls} answered, p50 ${fmt(g.p50Ms)} ms, p90 ${fmt(g.p90Ms)} ms, p99 ${fmt(g.p99Ms)} ms, max ${fmt(g.maxMs)} ms`,
    `load generator event-loop delay: p50 ${fmt(r.clientLoopDelayMs.p50)} ms, p99 ${fmt(r.clientLoopDelayMs.p99)} ms, max ${fmt(r.clientLoopDelayMs.max)} ms (high = the client, not the cluster, added latency)`,
    `pushes received: ${
      Object.entries(r.pushes)
        .map(([k, n]) => `${k}=${n}`)
        .join(' ') || 'none'
    }`,
    '',
    ...accounting(r),
    '',
    ...money(r),
    '',
    ...verdictLines(verdictOf(r)),
  ];
  return `${lines.join('\n')}\n`;
}
