/**
 * An in-memory sorted set with Redis ordering: ascending by score, ties by member. Members are
 * kept in one array sorted by (score, member) plus a score map, so rank and range are a binary
 * search and a slice, and an update costs one O(n) splice (fine for the embedded store's sizes).
 */
import type { ScoredMember } from './kv';

function before(aScore: number, aMember: string, bScore: number, bMember: string): boolean {
  return aScore < bScore || (aScore === bScore && aMember < bMember);
}

export class SortedSet {
  private readonly scores = new Map<string, number>();
  private readonly order: ScoredMember[] = [];

  get size(): number {
    return this.order.length;
  }

  score(member: string): number | null {
    return this.scores.get(member) ?? null;
  }

  set(member: string, score: number): void {
    const old = this.scores.get(member);
    if (old === score) return;
    if (old !== undefined) this.order.splice(this.indexOf(old, member), 1);
    this.scores.set(member, score);
    this.order.splice(this.indexOf(score, member), 0, { member, score });
  }

  delete(member: string): boolean {
    const old = this.scores.get(member);
    if (old === undefined) return false;
    this.order.splice(this.indexOf(old, member), 1);
    this.scores.delete(member);
    return true;
  }

  /** 0 = highest; null when absent. */
  revRank(member: string): number | null {
    const s = this.scores.get(member);
    if (s === undefined) return null;
    return this.order.length - 1 - this.indexOf(s, member);
  }

  /** Highest first, between descending positions [from, to). */
  revSlice(from: number, to: number): ScoredMember[] {
    const n = this.order.length;
    const out: ScoredMember[] = [];
    for (let i = n - 1 - from; i > n - 1 - to; i--) {
      const e = this.order[i]!;
      out.push({ member: e.member, score: e.score });
    }
    return out;
  }

  /** Position of (score, member) in the ascending order, or where it would be inserted. */
  private indexOf(score: number, member: string): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.order[mid]!;
      if (before(e.score, e.member, score, member)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
