/**
 * The Yellow registry as a pure state machine: no sockets, no timers, every time is an argument
 * (`now`, ms since epoch, Yellow's own clock). The server feeds it requests and publishes the
 * events it returns; tests drive it with a fake clock.
 *
 * Presence is soft state: an instance whose last heartbeat is older than
 * `missLimit * heartbeatMs` is removed by `expire` with a `down` event.
 *
 * Every change it returns is stamped with the next table version (`v`), so consumers can follow
 * deltas and notice a missed one. A heartbeat is not a change: its load is stored at once (a query
 * sees it) but published only by `flushLoads`, batched, and only when it moved noticeably.
 */
import type { InstanceLoad, InstanceRecord, InstanceRegistration, YellowEvent } from './types';

/** A change as Yellow publishes it: stamped with the table version it produced. */
export type VersionedEvent = YellowEvent & { v: number };

/** Default silence limit, in heartbeat intervals: five missed half-interval beats. */
export const DEFAULT_MISS_LIMIT = 2.5;
/** ELU or score moves smaller than this are not worth telling every consumer about. */
const LOAD_EPSILON = 0.05;
import { validateLoad, validateRegistration } from './validate';

export interface RegistryOptions {
  heartbeatMs: number;
  /** how many heartbeat intervals of silence make an instance down; default 2.5 (providers beat twice per interval) */
  missLimit?: number;
  /** most instances kept; a registration beyond it is refused so a flood cannot eat memory */
  maxInstances?: number;
}

export interface RegistryFilter {
  role?: string;
  /** Thrift service name (ServiceMethods.thriftService) */
  service?: string;
}

export class RegistryFullError extends Error {
  constructor(limit: number) {
    super(`registry is full (${limit} instances)`);
    this.name = 'RegistryFullError';
  }
}

export class Registry {
  readonly heartbeatMs: number;
  readonly missLimit: number;
  private readonly maxInstances: number;
  private readonly records = new Map<string, InstanceRecord>();
  /** the load each instance's consumers last heard of (in an `up` or a `load` event) */
  private readonly published = new Map<string, InstanceLoad>();
  /** instances whose stored load moved away from the published one */
  private readonly dirtyLoads = new Set<string>();
  private versionValue = 0;

  constructor(opts: RegistryOptions) {
    this.heartbeatMs = opts.heartbeatMs;
    this.missLimit = opts.missLimit ?? DEFAULT_MISS_LIMIT;
    this.maxInstances = opts.maxInstances ?? 10_000;
  }

  /** How long an instance may stay silent before it is down (ms). */
  get ttlMs(): number {
    return this.missLimit * this.heartbeatMs;
  }

  get size(): number {
    return this.records.size;
  }

  /** The version of the table: the `v` of the last change, 0 before any. */
  get version(): number {
    return this.versionValue;
  }

  private stamp<E extends YellowEvent>(ev: E): E & { v: number } {
    return { ...ev, v: ++this.versionValue };
  }

  private forget(instanceId: string): void {
    this.records.delete(instanceId);
    this.published.delete(instanceId);
    this.dirtyLoads.delete(instanceId);
  }

  /**
   * Adds or replaces an instance. Throws RegistrationError (naming the field) on bad input.
   * The epoch is max(previous + 1, now): it grows on every re-registration, and also across a
   * Yellow restart (which forgets previous epochs), so a new incarnation always fences the old one's
   * writes as long as Yellow's clock does not go backwards.
   * The `draining` flag survives a re-registration (an operator's decision outlives a reconnect);
   * a new record takes the instance's own claim (`reg.draining`), which is how a restarted Yellow
   * learns it.
   */
  register(reg: InstanceRegistration, now: number): { record: InstanceRecord; event: VersionedEvent } {
    const { proof: _proof, draining: claim, ...clean } = validateRegistration(reg);
    const prev = this.records.get(clean.instanceId);
    if (!prev && this.records.size >= this.maxInstances) throw new RegistryFullError(this.maxInstances);
    const record: InstanceRecord = {
      ...clean,
      draining: prev?.draining ?? claim ?? false,
      lastHeartbeat: now,
      epoch: Math.max((prev?.epoch ?? 0) + 1, Math.floor(now)),
    };
    this.records.set(record.instanceId, record);
    this.published.set(record.instanceId, record.load);
    this.dirtyLoads.delete(record.instanceId);
    return { record, event: this.stamp({ type: 'up', instance: structuredClone(record) }) };
  }

  /**
   * 'unknown' tells the instance to register again (e.g. after a Yellow restart or expiry).
   * `stalledMs` is how long the instance's main loop has made no progress (its heartbeats come
   * from a thread of their own); it is shown in queries, not published.
   */
  heartbeat(instanceId: string, load: InstanceLoad, now: number, stalledMs?: number): 'ok' | 'unknown' {
    const rec = this.records.get(instanceId);
    if (!rec) return 'unknown';
    rec.load = validateLoad(load);
    rec.lastHeartbeat = now;
    if (stalledMs === undefined) delete rec.stalledMs;
    else rec.stalledMs = stalledMs;
    const published = this.published.get(instanceId);
    if (!published || loadMoved(published, rec.load)) this.dirtyLoads.add(instanceId);
    else this.dirtyLoads.delete(instanceId);
    return 'ok';
  }

  /** The operator's flag on a known instance; undefined if unknown. Answered with every heartbeat. */
  isDraining(instanceId: string): boolean | undefined {
    return this.records.get(instanceId)?.draining;
  }

  /** One `load` event per instance whose load moved noticeably since its last published one. */
  flushLoads(): VersionedEvent[] {
    const events: VersionedEvent[] = [];
    for (const id of this.dirtyLoads) {
      const rec = this.records.get(id);
      if (!rec) continue;
      this.published.set(id, rec.load);
      events.push(this.stamp({ type: 'load', instanceId: id, load: { ...rec.load } }));
    }
    this.dirtyLoads.clear();
    return events;
  }

  deregister(instanceId: string): VersionedEvent | undefined {
    const rec = this.records.get(instanceId);
    if (!rec) return undefined;
    this.forget(instanceId);
    return this.stamp({ type: 'down', instanceId, role: rec.role, reason: 'deregistered' });
  }

  /** Draining instances stay listed (flagged) so bound sessions can finish; returns undefined if unknown. */
  setDraining(instanceId: string, draining: boolean): VersionedEvent | undefined {
    const rec = this.records.get(instanceId);
    if (!rec) return undefined;
    rec.draining = draining;
    return this.stamp({ type: 'draining', instanceId, draining });
  }

  /** Removes every instance silent for more than ttlMs; exactly ttlMs is still alive. */
  expire(now: number): VersionedEvent[] {
    const events: VersionedEvent[] = [];
    for (const rec of [...this.records.values()]) {
      if (now - rec.lastHeartbeat > this.ttlMs) {
        this.forget(rec.instanceId);
        events.push(this.stamp({ type: 'down', instanceId: rec.instanceId, role: rec.role, reason: 'expired' }));
      }
    }
    return events;
  }

  /**
   * Treats every instance as just heard from. Used after Yellow itself stalled (SIGSTOP, a long
   * GC): their silence was ours, and heartbeats buffered meanwhile must not turn into expiries.
   */
  forgive(now: number): void {
    for (const rec of this.records.values()) rec.lastHeartbeat = Math.max(rec.lastHeartbeat, now);
  }

  get(instanceId: string): InstanceRecord | undefined {
    const rec = this.records.get(instanceId);
    return rec ? structuredClone(rec) : undefined;
  }

  /** Copies, so callers cannot mutate the table. */
  list(filter: RegistryFilter = {}): InstanceRecord[] {
    const out: InstanceRecord[] = [];
    for (const rec of this.records.values()) {
      if (filter.role !== undefined && rec.role !== filter.role) continue;
      if (filter.service !== undefined && rec.service?.thriftService !== filter.service) continue;
      out.push(structuredClone(rec));
    }
    return out;
  }
}

/** True when consumers should hear of the new load: a count changed, or a ratio moved by LOAD_EPSILON. */
export function loadMoved(a: InstanceLoad, b: InstanceLoad): boolean {
  if (a.inFlight !== b.inFlight || a.connections !== b.connections) return true;
  if (Math.abs(a.elu - b.elu) >= LOAD_EPSILON) return true;
  if ((a.score === undefined) !== (b.score === undefined)) return true;
  return a.score !== undefined && b.score !== undefined && Math.abs(a.score - b.score) >= LOAD_EPSILON;
}
