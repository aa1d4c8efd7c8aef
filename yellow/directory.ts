/**
 * A consumer's local view of Yellow: the table brokers and services route from. It has no
 * sockets; a watcher (watcher.ts) feeds it PUB events and poll answers, and tests build one from
 * a static list with `Directory.fromRecords`.
 *
 * Removal rules: an instance goes on a `down` event from any Yellow, or when a poll found it
 * absent from every answering Yellow that is not warming up. When no Yellow answers, nothing is
 * removed: consumers keep serving from their last table while Yellow restarts.
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

/** One Yellow's answer to a poll. */
export interface PollAnswer {
  instances: InstanceRecord[];
  warmingUp: boolean;
}

interface Entry {
  record: InstanceRecord;
  /** local clock when last confirmed by an event or a poll; guards against racing removals */
  seenAt: number;
}

function sameExceptHeartbeat(a: InstanceRecord, b: InstanceRecord): boolean {
  return JSON.stringify({ ...a, lastHeartbeat: 0 }) === JSON.stringify({ ...b, lastHeartbeat: 0 });
}

export class Directory {
  private readonly table = new Map<string, Entry>();
  private readonly emitter = new EventEmitter();

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

  /** Applies one PUB event from any Yellow. */
  apply(ev: YellowEvent, now = Date.now()): void {
    switch (ev.type) {
      case 'up':
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
