/**
 * A consumer's local view of Yellow: the table brokers and services route from. It has no
 * sockets; a watcher (watcher.ts) feeds it PUB events and poll answers, and tests build one from
 * a static list with `Directory.fromRecords`.
 *
 * Removal rules: an instance goes on a `down` event from any Yellow, or when a resync (a full
 * answer from one Yellow that is not warming up) no longer lists it and no other Yellow's view
 * does. When no Yellow answers, nothing is removed: consumers keep serving from their last table
 * while Yellow restarts.
 *
 * The directory keeps, per Yellow (a `source`: its index in the configured list), the ids that
 * Yellow's snapshot and events listed, so one Yellow's resync cannot remove what another lists.
 */
import { EventEmitter } from 'node:events';
import type { InstanceLoad, InstanceRecord, YellowEvent } from './types';

export interface DirectoryFilter {
  role?: string;
  thriftService?: string;
  /** draining instances are left out unless asked for */
  includeDraining?: boolean;
}

export type DownReason = 'expired' | 'deregistered' | 'absent';

export interface DirectoryEvents {
  up: [record: InstanceRecord];
  down: [info: { instanceId: string; role: string; reason: DownReason; record: InstanceRecord }];
  change: [record: InstanceRecord, previous: InstanceRecord];
}

/** One Yellow's answer to a poll or a resync. */
export interface PollAnswer {
  instances: InstanceRecord[];
  warmingUp: boolean;
}

interface Entry {
  record: InstanceRecord;
  /** local clock when last confirmed by an event or a poll; guards against racing removals */
  seenAt: number;
}

/** Heartbeat time and stall report change with every beat; neither is a change worth an event. */
function sameExceptHeartbeat(a: InstanceRecord, b: InstanceRecord): boolean {
  const quiet = { lastHeartbeat: 0, stalledMs: undefined };
  return JSON.stringify({ ...a, ...quiet }) === JSON.stringify({ ...b, ...quiet });
}

export class Directory {
  private readonly table = new Map<string, Entry>();
  private readonly emitter = new EventEmitter();
  /** per Yellow: the ids its last snapshot plus later events list */
  private readonly views = new Map<number, Set<string>>();

  /** A directory from a static list, for routing tests without sockets. */
  static fromRecords(records: Iterable<InstanceRecord>): Directory {
    const dir = new Directory();
    for (const r of records) dir.upsert(r);
    return dir;
  }

  get size(): number {
    return this.table.size;
  }

  /** Live instances matching the filter, ordered by instanceId so every reader sees one order. */
  instances(filter: DirectoryFilter = {}): InstanceRecord[] {
    const out: InstanceRecord[] = [];
    for (const { record } of this.table.values()) {
      if (filter.role !== undefined && record.role !== filter.role) continue;
      if (filter.thriftService !== undefined && record.service?.thriftService !== filter.thriftService) continue;
      if (record.draining && !filter.includeDraining) continue;
      out.push(record);
    }
    return out.sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
  }

  get(instanceId: string): InstanceRecord | undefined {
    return this.table.get(instanceId)?.record;
  }

  /** Known and not reported down; a draining instance is alive (its sessions may finish). */
  isAlive(instanceId: string): boolean {
    return this.table.has(instanceId);
  }

  on<K extends keyof DirectoryEvents>(event: K, listener: (...args: DirectoryEvents[K]) => void): this {
    this.emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<K extends keyof DirectoryEvents>(event: K, listener: (...args: DirectoryEvents[K]) => void): this {
    this.emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  once<K extends keyof DirectoryEvents>(event: K, listener: (...args: DirectoryEvents[K]) => void): this {
    this.emitter.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  private emit<K extends keyof DirectoryEvents>(event: K, ...args: DirectoryEvents[K]): void {
    // A throwing listener must not stop the table from being updated for the others.
    for (const fn of this.emitter.listeners(event)) {
      try {
        (fn as (...a: DirectoryEvents[K]) => void)(...args);
      } catch {
        // listeners own their errors
      }
    }
  }

  /** Adds or replaces a record; emits `up` or `change`. */
  upsert(record: InstanceRecord, now = Date.now()): void {
    const prev = this.table.get(record.instanceId);
    this.table.set(record.instanceId, { record, seenAt: now });
    if (!prev) this.emit('up', record);
    else if (!sameExceptHeartbeat(prev.record, record)) this.emit('change', record, prev.record);
  }

  /** Removes a record; emits `down` if it was known. */
  remove(instanceId: string, reason: DownReason): void {
    for (const view of this.views.values()) view.delete(instanceId);
    const prev = this.table.get(instanceId);
    if (!prev) return;
    this.table.delete(instanceId);
    this.emit('down', { instanceId, role: prev.record.role, reason, record: prev.record });
  }

  private patch(instanceId: string, change: { load?: InstanceLoad; draining?: boolean }, now: number): void {
    const prev = this.table.get(instanceId);
    if (!prev) return;
    this.upsert({ ...prev.record, ...change }, now);
  }

  /** Applies one PUB event from any Yellow (`source`: its index, when the caller tracks views). */
  apply(ev: YellowEvent, now = Date.now(), source?: number): void {
    switch (ev.type) {
      case 'up':
        if (source !== undefined) this.viewOf(source).add(ev.instance.instanceId);
        this.upsert(ev.instance, now);
        return;
      case 'down':
        this.remove(ev.instanceId, ev.reason);
        return;
      case 'load':
        this.patch(ev.instanceId, { load: ev.load }, now);
        return;
      case 'draining':
        this.patch(ev.instanceId, { draining: ev.draining }, now);
        return;
      case 'tick':
        return;
    }
  }

  private viewOf(source: number): Set<string> {
    let view = this.views.get(source);
    if (!view) this.views.set(source, (view = new Set()));
    return view;
  }

  /** True when a Yellow other than `source` lists the id (`before`: only those earlier in order). */
  private listedElsewhere(id: string, source: number, before = false): boolean {
    for (const [s, view] of this.views) if (s !== source && (!before || s < source) && view.has(id)) return true;
    return false;
  }

  /**
   * Replaces Yellow `source`'s view with its full answer. Records are taken unless an earlier
   * Yellow (in configured order) lists the same id: epochs differ per Yellow, and the first one
   * wins so records do not flip. Ids that were in this view and are no longer go down as `absent`
   * unless another Yellow lists them. A warming-up Yellow only adds: its table is still refilling.
   */
  resync(source: number, answer: PollAnswer, now = Date.now()): void {
    const ids = new Set<string>();
    for (const r of answer.instances) {
      ids.add(r.instanceId);
      if (!this.listedElsewhere(r.instanceId, source, true)) this.upsert(r, now);
    }
    const old = this.viewOf(source);
    if (answer.warmingUp) {
      for (const id of ids) old.add(id);
      return;
    }
    this.views.set(source, ids);
    for (const id of old) {
      if (!ids.has(id) && !this.listedElsewhere(id, source)) this.remove(id, 'absent');
    }
  }

  /**
   * Merges one poll round. `answers` holds the Yellows that answered; `pollStartedAt` is the local
   * time the round was sent, so an instance announced by an event during the round is kept.
   */
  reconcile(answers: PollAnswer[], pollStartedAt: number, now = Date.now()): void {
    if (answers.length === 0) return;
    // The first Yellow (in configured order) that knows an instance wins, so records (epochs
    // differ per Yellow) do not flip between Yellows on every round.
    const union = new Map<string, InstanceRecord>();
    for (const a of answers) for (const r of a.instances) if (!union.has(r.instanceId)) union.set(r.instanceId, r);
    for (const r of union.values()) this.upsert(r, now);
    if (answers.every((a) => a.warmingUp)) return;
    for (const [id, entry] of [...this.table]) {
      if (!union.has(id) && entry.seenAt < pollStartedAt) this.remove(id, 'absent');
    }
  }
}
