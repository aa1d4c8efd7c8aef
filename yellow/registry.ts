/**
 * The Yellow registry as a pure state machine: no sockets, no timers, every time is an argument
 * (`now`, ms since epoch, Yellow's own clock). The server feeds it requests and publishes the
 * events it returns; tests drive it with a fake clock.
 *
 * Presence is soft state: an instance whose last heartbeat is older than
 * `missLimit * heartbeatMs` is removed by `expire` with a `down` event.
 */
import type { InstanceLoad, InstanceRecord, InstanceRegistration, YellowEvent } from './types';
import { validateLoad, validateRegistration } from './validate';

export interface RegistryOptions {
  heartbeatMs: number;
  /** heartbeats an instance may miss before it is down; default 3 */
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

  constructor(opts: RegistryOptions) {
    this.heartbeatMs = opts.heartbeatMs;
    this.missLimit = opts.missLimit ?? 3;
    this.maxInstances = opts.maxInstances ?? 10_000;
  }

  /** How long an instance may stay silent before it is down (ms). */
  get ttlMs(): number {
    return this.missLimit * this.heartbeatMs;
  }

  get size(): number {
    return this.records.size;
  }

  /**
   * Adds or replaces an instance. Throws RegistrationError (naming the field) on bad input.
   * The epoch is max(previous + 1, now): it grows on every re-registration, and also across a
   * Yellow restart (which forgets previous epochs), so a new incarnation always fences the old one's
   * writes as long as Yellow's clock does not go backwards.
   * The `draining` flag survives a re-registration (an operator's decision outlives a reconnect).
   */
  register(reg: InstanceRegistration, now: number): { record: InstanceRecord; event: YellowEvent } {
    const { proof: _proof, ...clean } = validateRegistration(reg);
    const prev = this.records.get(clean.instanceId);
    if (!prev && this.records.size >= this.maxInstances) throw new RegistryFullError(this.maxInstances);
    const record: InstanceRecord = {
      ...clean,
      draining: prev?.draining ?? false,
      lastHeartbeat: now,
      epoch: Math.max((prev?.epoch ?? 0) + 1, Math.floor(now)),
    };
    this.records.set(record.instanceId, record);
    return { record, event: { type: 'up', instance: record } };
  }

  /** 'unknown' tells the instance to register again (e.g. after a Yellow restart or expiry). */
  heartbeat(instanceId: string, load: InstanceLoad, now: number): 'ok' | 'unknown' {
    const rec = this.records.get(instanceId);
    if (!rec) return 'unknown';
    rec.load = validateLoad(load);
    rec.lastHeartbeat = now;
    return 'ok';
  }

  deregister(instanceId: string): YellowEvent | undefined {
    const rec = this.records.get(instanceId);
    if (!rec) return undefined;
    this.records.delete(instanceId);
    return { type: 'down', instanceId, role: rec.role, reason: 'deregistered' };
  }

  /** Draining instances stay listed (flagged) so bound sessions can finish; returns undefined if unknown. */
  setDraining(instanceId: string, draining: boolean): YellowEvent | undefined {
    const rec = this.records.get(instanceId);
    if (!rec) return undefined;
    rec.draining = draining;
    return { type: 'draining', instanceId, draining };
  }

  /** Removes every instance silent for more than ttlMs; exactly ttlMs is still alive. */
  expire(now: number): YellowEvent[] {
    const events: YellowEvent[] = [];
    for (const rec of this.records.values()) {
      if (now - rec.lastHeartbeat > this.ttlMs) {
        this.records.delete(rec.instanceId);
        events.push({ type: 'down', instanceId: rec.instanceId, role: rec.role, reason: 'expired' });
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
