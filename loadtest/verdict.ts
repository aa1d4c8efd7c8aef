/**
 * What a run says, in words, and whether it passed. A load test is there to find what breaks, so
 * it fails (exit 1) when calls fail for platform reasons beyond a small share, when a simulated
 * player could not even sign in, when the client's and the brokers' books disagree, or when the
 * money check finds money made or lost. A game refusal (not enough funds, a unit at its cap) is
 * not a platform failure, but an action that never once succeeded is said plainly: it usually
 * means the scenario plays against the game's rules.
 */
import { moneyFailed } from './money';
import type { Report } from './report';
import type { ActionName } from './scenario';

/** Calls failing for platform reasons (timeouts, drops, BUSY, UNAVAILABLE, …) above this share fail the run. */
export const PLATFORM_FAILURE_SHARE = 0.02;

/** Error kinds that are the platform's, not the game's (loadtest/stats.ts's OutcomeKind). */
const PLATFORM_KINDS = ['timeout', 'disconnect', 'broker', 'notSent', 'other'] as const;
/** The SDK's own subscribe and the sign-ins are judged by `players.failed`, not by success rate. */
const SETUP_METHODS = new Set(['Sso:register', 'Sso:login', 'Sso:resume', 'Events:subscribe']);

/** The call that shows each scenario action was played. */
const ACTION_METHOD: Record<ActionName, string> = {
  playRound: 'Player:playRound',
  levelUp: 'Player:levelUp',
  evolve: 'Player:evolve',
  buyCurrency: 'Player:buyCurrency',
  spendCurrency: 'Player:spendCurrency',
  getProfile: 'Player:getProfile',
  chatSay: 'Chat:say',
  duel: 'Duel:findMatch',
  leaderboardTop: 'Leaderboard:top',
};

/** Why an action may legitimately never reach its call (loadtest/progression.ts). */
const WHY_NOT_PLAYED: Partial<Record<ActionName, string>> = {
  evolve: 'no unit reached its level cap in this run; those turns levelled units up towards it',
};

export interface Verdict {
  ok: boolean;
  /** why the run failed, one line each */
  failures: string[];
  /** what a person should know even when it passed */
  notes: string[];
}

function breakdown(errors: Record<string, number>, keep: (key: string) => boolean): string {
  return Object.entries(errors)
    .filter(([k]) => keep(k))
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k}=${n}`)
    .join(' ');
}

const isPlatform = (key: string): boolean => (PLATFORM_KINDS as readonly string[]).includes(key.split(':')[0] ?? '');

export function verdictOf(r: Report): Verdict {
  const failures: string[] = [];
  const notes: string[] = [];
  if (r.players.failed > 0)
    failures.push(
      `${r.players.failed} of ${r.players.started} simulated players could not connect or sign in${r.connectFailures.samples[0] ? ` (${r.connectFailures.samples[0]})` : ''}`,
    );
  if (r.players.late > 0)
    notes.push(
      `${r.players.late} of ${r.players.started} players were still waiting to sign in when the run ended (sign-ins run accounts.signInConcurrency at a time: raise it, lower the password-hashing cost, or run longer)`,
    );
  const platformErrors: Record<string, number> = {};
  let platform = 0;
  for (const m of r.methods)
    for (const [k, n] of Object.entries(m.errors))
      if (isPlatform(k)) {
        platform += n;
        platformErrors[k] = (platformErrors[k] ?? 0) + n;
      }
  const issued = r.accounting.sent + r.accounting.notSent;
  if (platform / Math.max(1, issued) > PLATFORM_FAILURE_SHARE)
    failures.push(
      `${platform} of ${issued} calls failed for platform reasons (over ${PLATFORM_FAILURE_SHARE * 100} %): ${breakdown(platformErrors, () => true)}`,
    );
  else if (platform > 0)
    notes.push(
      `${platform} of ${r.accounting.sent} calls failed for platform reasons: ${breakdown(platformErrors, () => true)}`,
    );
  if (r.accounting.unaccounted !== null && r.accounting.unaccounted > 0)
    failures.push(`${r.accounting.unaccounted} calls are unaccounted for between the client and the brokers`);
  if (r.money !== null && moneyFailed(r.money)) failures.push('the money check failed (see above)');
  for (const m of r.methods) {
    if (SETUP_METHODS.has(m.method) || m.count === 0) continue;
    if (m.ok === 0)
      notes.push(`${m.method} never succeeded: ${m.count} calls, ${breakdown(m.errors, () => true) || 'no answer'}`);
    else if (m.ok < m.count / 2)
      notes.push(`${m.method} succeeded ${m.ok} of ${m.count} times: ${breakdown(m.errors, () => true)}`);
  }
  const called = new Map(r.methods.map((m) => [m.method, m.count]));
  for (const [action, weight] of Object.entries(r.scenario.mix) as [ActionName, number][])
    if (weight > 0 && (called.get(ACTION_METHOD[action]) ?? 0) === 0)
      notes.push(
        `${action} was never played as ${ACTION_METHOD[action]}${WHY_NOT_PLAYED[action] ? `: ${WHY_NOT_PLAYED[action]}` : ''}`,
      );
  return { ok: failures.length === 0, failures, notes };
}

/** The verdict as lines for the text report. */
export function verdictLines(v: Verdict): string[] {
  return [
    v.ok ? 'Verdict: PASSED' : 'Verdict: FAILED',
    ...v.failures.map((f) => `  failed: ${f}`),
    ...v.notes.map((n) => `  note: ${n}`),
  ];
}
