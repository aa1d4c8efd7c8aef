/**
 * A consumer's position in one Yellow's stream of changes: which table version it has applied,
 * and whether it must resync (a full `query`). Pure bookkeeping, no sockets; the watcher asks it
 * what to do with each event and each resync answer.
 *
 * Changes carry consecutive versions. The next one is applied; an older one is a duplicate
 * (already in a snapshot) and skipped; a jump means one was lost: it is applied anyway (it is
 * newer than anything we have) and a resync is due. A `tick` carries the current version, so a
 * lost last change shows too, and its `startedAt` reveals a restarted Yellow.
 *
 * Events keep arriving while a resync's `query` is answered over another socket, in any order
 * relative to the answer, so those with a version above the snapshot's are applied again after it.
 */
import type { YellowEvent } from './types';

/** What to do with one event: apply it to the table (and resync if `resync`), or drop it. */
export interface Verdict {
  apply: boolean;
  resync?: 'gap' | 'restart';
}

export class FeedCursor {
  /** the last version applied; undefined until the first resync answer */
  version: number | undefined;
  /** the Yellow's start time from the last resync answer */
  startedAt: number | undefined;
  private buffered: Array<YellowEvent & { v: number }> | undefined;

  /** Classifies one event from this Yellow's PUB. */
  accept(ev: YellowEvent): Verdict {
    if (ev.type === 'tick') {
      if (this.startedAt !== undefined && ev.startedAt !== this.startedAt) return { apply: false, resync: 'restart' };
      if (this.version !== undefined && ev.v !== undefined && ev.v > this.version && !this.buffered)
        return { apply: false, resync: 'gap' };
      return { apply: false };
    }
    if (ev.v === undefined) return { apply: true };
    if (this.buffered) {
      this.buffered.push(ev as YellowEvent & { v: number });
      return { apply: true };
    }
    if (this.version === undefined) return { apply: true };
    if (ev.v <= this.version) return { apply: false };
    if (ev.v === this.version + 1) {
      this.version = ev.v;
      return { apply: true };
    }
    return { apply: true, resync: 'gap' };
  }

  /** A resync's query is about to be sent: remember events until its answer is applied. */
  beginResync(): void {
    this.buffered = [];
  }

  /** The query failed: events were applied as they came, the next resync will settle it. */
  abortResync(): void {
    this.buffered = undefined;
  }

  /**
   * The snapshot at `version` was applied. Returns the events received meanwhile that are newer
   * than it, in order, to apply again; `gap` when even they leave a version missing.
   */
  endResync(version: number, startedAt: number): { replay: YellowEvent[]; gap: boolean } {
    const pending = (this.buffered ?? []).filter((e) => e.v > version).sort((a, b) => a.v - b.v);
    this.buffered = undefined;
    this.startedAt = startedAt;
    if (version < 0) {
      // A Yellow that predates versions: nothing to track.
      this.version = undefined;
      return { replay: pending, gap: false };
    }
    this.version = version;
    let gap = false;
    for (const e of pending) {
      if (e.v === this.version + 1) this.version = e.v;
      else if (e.v > this.version + 1) gap = true;
    }
    return { replay: pending, gap };
  }
}
