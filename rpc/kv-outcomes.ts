/**
 * Call outcomes in the Kv (sharded Redis in a cluster), shared by every instance of a service:
 * one key per call, `reply:<role>:{<session>}:<request id>` (a session's keys share a shard),
 * holding RUNNING while the first arrival runs and then the outcome, for the cache's age.
 */
import type { Kv } from '../shared/data/kv';
import { NoonError } from '../shared/errors';
import type { Directive } from '../shared/wire/frames';
import type { CallOutcome, SharedOutcomes } from './reply-cache';

const RUNNING = 'running';

interface Stored {
  p: string;
  d: Directive[];
  e?: ReturnType<NoonError['toJSON']>;
}

export function encodeOutcome(o: CallOutcome): string {
  const s: Stored = { p: o.payload.toString('base64'), d: o.directives, ...(o.error ? { e: o.error.toJSON() } : {}) };
  return JSON.stringify(s);
}

export function decodeOutcome(text: string): CallOutcome {
  const s = JSON.parse(text) as Stored;
  if (typeof s.p !== 'string' || !Array.isArray(s.d))
    throw new NoonError('INTERNAL', 'stored call outcome is malformed');
  return { payload: Buffer.from(s.p, 'base64'), directives: s.d, ...(s.e ? { error: NoonError.fromJSON(s.e) } : {}) };
}

export class KvOutcomes implements SharedOutcomes {
  constructor(
    private readonly kv: Kv,
    /** the service's role: outcomes of different services never meet */
    private readonly role: string,
  ) {}

  private keyOf(key: string): string {
    return `reply:${this.role}:${key}`;
  }

  async claim(key: string, holdMs: number): Promise<CallOutcome | 'claimed' | 'running'> {
    const k = this.keyOf(key);
    if (await this.kv.setIfAbsent(k, RUNNING, holdMs)) return 'claimed';
    const v = await this.kv.get(k);
    // null: the holder's claim expired just now; the next poll claims it
    if (v === null || v === RUNNING) return 'running';
    return decodeOutcome(v);
  }

  put(key: string, outcome: CallOutcome, ageMs: number): Promise<void> {
    return this.kv.set(this.keyOf(key), encodeOutcome(outcome), ageMs);
  }
}
