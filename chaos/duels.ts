/**
 * Staked duels played to the end under the faults: pairs of duelists, each pair at a stake of its
 * own (the matchmaker pairs equal stakes only, so a pair always meets itself). One player queues,
 * the other is matched; the queued one waits for its matchFound push (which binds its session to
 * the duel's instance); both DRAW, then one SHOOTs, the winner alternating so neither wallet runs
 * dry. Every duel is recorded with the scenario it started in and how it ended: finished (by
 * reason), STATE_LOST, or another code, honestly, whatever the duel service does today.
 */
import Int64 from 'node-int64';
import type { NoonClient } from '../client';
import { DuelAction, DuelActRequest, DuelPhase, MatchStatus, type DuelState } from '../shared/protocol';
import { pause } from './wait';

/** How one duel of the workload ended. */
export interface DuelRecord {
  scenario: number;
  startedAt: number;
  endedAt: number;
  /** 'finished', or the code that ended it (STATE_LOST, UNAVAILABLE, …) */
  outcome: string;
  /** the end reason when finished (shot, timeout, …) */
  reason: string;
}

/** A recorded call: its result, or the code it was rejected with. */
export type CallResult<T> = { ok: true; value: T } | { ok: false; code: string };

/** Makes one call recorded in the workload's counts (method name, outcome, scenario). */
export type Recorder = <T>(method: string, fn: () => Promise<T>) => Promise<CallResult<T>>;

export const FINISHED = 'finished';
/** codes of a duel whose outcome the duelists could not learn (the last call's code) */
const UNRESOLVED = 'UNRESOLVED';
const MATCH_WAIT_MS = 10_000;
/** a failed act is retried this often (UNAVAILABLE, a timeout) before the duel is given up */
const ACT_ATTEMPTS = 3;

/** Resolves with the next matchFound push's duel id, or undefined after `ms`. */
function nextMatch(c: NoonClient, ms: number): { found: Promise<string | undefined>; cancel(): void } {
  let off: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let done: ((id: string | undefined) => void) | undefined;
  const found = new Promise<string | undefined>((resolve) => {
    done = resolve;
    off = c.once('matchFound', (t) => resolve(t.duelId));
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return {
    found,
    cancel: () => {
      off?.();
      clearTimeout(timer);
      done?.(undefined);
    },
  };
}

export class DuelPair {
  private duels = 0;

  constructor(
    private readonly a: NoonClient,
    private readonly b: NoonClient,
    private readonly stake: number,
    private readonly call: Recorder,
  ) {}

  /** One duel from matchmaking to its end; undefined when no duel was made (not counted as a duel). */
  async play(scenario: () => number): Promise<DuelRecord | undefined> {
    const { a, b } = this;
    const waiter = nextMatch(a, MATCH_WAIT_MS);
    const queued = await this.call('Duel:findMatch', () => a.duel.findMatch(new Int64(this.stake)));
    if (!queued.ok || queued.value.status !== MatchStatus.QUEUED) {
      waiter.cancel();
      if (queued.ok) await this.call('Duel:cancelMatch', () => a.duel.cancelMatch());
      return undefined;
    }
    const matched = await this.call('Duel:findMatch', () => b.duel.findMatch(new Int64(this.stake)));
    if (!matched.ok || matched.value.status !== MatchStatus.MATCHED) {
      waiter.cancel();
      await this.call('Duel:cancelMatch', () => a.duel.cancelMatch());
      if (matched.ok) await this.call('Duel:cancelMatch', () => b.duel.cancelMatch());
      return undefined;
    }
    const started = { scenario: scenario(), startedAt: Date.now() };
    const duelId = matched.value.duelId ?? '';
    // the push carries the bind of the queued player's session to the duel's instance
    await waiter.found;
    const winnerIsA = this.duels++ % 2 === 0;
    const steps: Array<[NoonClient, DuelAction]> = [
      [a, DuelAction.DRAW],
      [b, DuelAction.DRAW],
      [winnerIsA ? a : b, DuelAction.SHOOT],
    ];
    let end: { outcome: string; reason: string } = { outcome: UNRESOLVED, reason: '' };
    for (const [who, action] of steps) {
      const r = await this.act(who, duelId, action);
      if ('outcome' in r) {
        end = r;
        break;
      }
      if (r.state?.phase === DuelPhase.FINISHED) {
        end = { outcome: FINISHED, reason: r.state.reason ?? '' };
        break;
      }
    }
    return { ...started, endedAt: Date.now(), ...end };
  }

  /**
   * One action, retried on an error that leaves the duel as it was. A refusal (already drawn, the
   * duel is over) means an earlier attempt or the turn clock moved it: the duel is read again.
   */
  private async act(
    who: NoonClient,
    duelId: string,
    action: DuelAction,
  ): Promise<{ state: DuelState | undefined } | { outcome: string; reason: string }> {
    let code = '';
    for (let i = 0; i < ACT_ATTEMPTS; i++) {
      const r = await this.call('Duel:act', () => who.duel.act(new DuelActRequest({ duelId, action })));
      if (r.ok) return { state: r.value };
      code = r.code;
      if (code === 'STATE_LOST') return { outcome: code, reason: '' };
      if (code === 'CONFLICT' || code === 'NOT_FOUND') {
        const g = await this.call('Duel:getDuel', () => who.duel.getDuel(duelId));
        if (g.ok) return { state: g.value };
        if (g.code === 'STATE_LOST') return { outcome: g.code, reason: '' };
        code = g.code;
      }
      await pause(200);
    }
    return { outcome: code || UNRESOLVED, reason: '' };
  }
}
