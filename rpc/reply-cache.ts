/**
 * Answers a client's retried call with its first outcome (docs/retries.md). A call is known by
 * its session and the request id its client gave it. The first arrival runs; a duplicate that
 * arrives while it runs waits for its outcome; a later one gets the remembered outcome. Outcomes
 * are remembered here (bounded: entries per session, sessions, age) and, when a shared store is
 * given, for every instance of the service: after a broker's death a retry may reach another one.
 */
import { NoonError } from '../shared/errors';
import type { Directive } from '../shared/wire/frames';

/** What a call answered: what the reply envelope carries. */
export interface CallOutcome {
  payload: Buffer;
  directives: Directive[];
  error?: NoonError;
}

/** The outcomes every instance of a service sees (Redis in a cluster). */
export interface SharedOutcomes {
  /**
   * The outcome stored for `key`; otherwise 'claimed' when this caller now holds the key for
   * `holdMs` (it must run the call and put its outcome), or 'running' when someone else holds it.
   */
  claim(key: string, holdMs: number): Promise<CallOutcome | 'claimed' | 'running'>;
  put(key: string, outcome: CallOutcome, ageMs: number): Promise<void>;
}

export interface ReplyCacheOptions {
  /** outcomes remembered per session here, oldest forgotten first */
  perSession: number;
  /** sessions remembered here, the least recently used forgotten first */
  sessions: number;
  /** how long an outcome is remembered, here and in the shared store */
  ageMs: number;
  shared?: SharedOutcomes;
  /** how often a duplicate of a call running on another instance looks for its outcome; default 25 ms */
  pollMs?: number;
  /** the shared store failed: the call runs (or its outcome stays local) without it */
  onSharedError?(err: Error): void;
  now?: () => number;
}

interface Remembered {
  outcome: CallOutcome;
  at: number;
}

/** A duplicate that outlived its deadline waiting for another instance: its outcome is still unknown. */
function stillRunning(requestId: string): CallOutcome {
  return {
    payload: Buffer.alloc(0),
    directives: [],
    error: new NoonError('TIMEOUT', `request ${requestId} is still running elsewhere; its outcome is not known yet`),
  };
}

export class ReplyCache {
  /** session -> request id -> outcome; both maps in least-recently-used-first order */
  private readonly bySession = new Map<string, Map<string, Remembered>>();
  private readonly running = new Map<string, Promise<CallOutcome>>();
  private readonly now: () => number;
  private readonly pollMs: number;

  constructor(private readonly opts: ReplyCacheOptions) {
    for (const k of ['perSession', 'sessions', 'ageMs'] as const)
      if (!Number.isSafeInteger(opts[k]) || opts[k] <= 0)
        throw new RangeError(`reply cache ${k} must be a positive integer, got ${opts[k]}`);
    this.now = opts.now ?? Date.now;
    this.pollMs = opts.pollMs ?? 25;
  }

  /** Sessions remembered here (for tests and metrics). */
  get sessionCount(): number {
    return this.bySession.size;
  }

  /** Calls running now under a request id. */
  get runningCount(): number {
    return this.running.size;
  }

  /**
   * The outcome of call `requestId` of `sessionId`: remembered, awaited from the first arrival,
   * or made by `run` (which must not reject). `deadline` (epoch ms) bounds a wait for another instance.
   */
  answer(
    sessionId: string,
    requestId: string,
    deadline: number,
    run: () => Promise<CallOutcome>,
  ): Promise<CallOutcome> {
    const hit = this.lookup(sessionId, requestId);
    if (hit) return Promise.resolve(hit);
    const key = `${sessionId}\u0000${requestId}`;
    const first = this.running.get(key);
    if (first) return first;
    const p = this.first(sessionId, requestId, deadline, run).finally(() => this.running.delete(key));
    this.running.set(key, p);
    return p;
  }

  /** The remembered outcome, if fresh. */
  lookup(sessionId: string, requestId: string): CallOutcome | undefined {
    const calls = this.bySession.get(sessionId);
    const r = calls?.get(requestId);
    if (!calls || !r) return undefined;
    if (this.now() - r.at >= this.opts.ageMs) {
      calls.delete(requestId);
      if (calls.size === 0) this.bySession.delete(sessionId);
      return undefined;
    }
    this.bySession.delete(sessionId);
    this.bySession.set(sessionId, calls);
    return r.outcome;
  }

  private async first(
    sessionId: string,
    requestId: string,
    deadline: number,
    run: () => Promise<CallOutcome>,
  ): Promise<CallOutcome> {
    const shared = this.opts.shared;
    if (!shared) return this.remember(sessionId, requestId, await run());
    const key = `{${sessionId}}:${requestId}`;
    for (;;) {
      let state: Awaited<ReturnType<SharedOutcomes['claim']>>;
      try {
        // Held until the call's own deadline: if this instance dies mid-call, a retry may run after it.
        state = await shared.claim(key, Math.max(1, deadline - this.now()));
      } catch (err) {
        this.opts.onSharedError?.(err as Error);
        return this.remember(sessionId, requestId, await run());
      }
      if (state === 'claimed') {
        const outcome = await run();
        // The reply does not wait for the write: until it lands, a duplicate elsewhere sees 'running' and waits.
        shared.put(key, outcome, this.opts.ageMs).catch((err: unknown) => this.opts.onSharedError?.(err as Error));
        return this.remember(sessionId, requestId, outcome);
      }
      if (state !== 'running') return this.remember(sessionId, requestId, state);
      if (this.now() + this.pollMs >= deadline) return stillRunning(requestId);
      await new Promise((resolve) => setTimeout(resolve, this.pollMs));
    }
  }

  private remember(sessionId: string, requestId: string, outcome: CallOutcome): CallOutcome {
    let calls = this.bySession.get(sessionId);
    if (calls) this.bySession.delete(sessionId);
    else calls = new Map();
    this.bySession.set(sessionId, calls);
    calls.set(requestId, { outcome, at: this.now() });
    while (calls.size > this.opts.perSession) calls.delete(calls.keys().next().value as string);
    while (this.bySession.size > this.opts.sessions)
      this.bySession.delete(this.bySession.keys().next().value as string);
    return outcome;
  }
}
