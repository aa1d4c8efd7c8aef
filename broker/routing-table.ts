/**
 * What the broker knows about every Thrift service, learned from Yellow: methods, which are
 * public (before login), internal (never from clients), idempotent (retried once elsewhere),
 * whether it is stateful, and its live instances. A service whose every instance died stays
 * known, so its callers get UNAVAILABLE rather than UNKNOWN_METHOD.
 */
import type { InstanceRecord } from '../yellow/types';

export interface ServiceRoute {
  role: string;
  thriftService: string;
  stateful: boolean;
  methods: ReadonlySet<string>;
  publicMethods: ReadonlySet<string>;
  internalMethods: ReadonlySet<string>;
  idempotentMethods: ReadonlySet<string>;
  /** live instances that take new work (draining ones left out) */
  instances: InstanceRecord[];
}

export class RoutingTable {
  private constructor(
    private readonly services: ReadonlyMap<string, ServiceRoute>,
    private readonly alive: ReadonlyMap<string, InstanceRecord>,
  ) {}

  static empty(): RoutingTable {
    return new RoutingTable(new Map(), new Map());
  }

  /** `records` includes draining instances; `previous` keeps services that lost every instance. */
  static build(records: readonly InstanceRecord[], previous: RoutingTable = RoutingTable.empty()): RoutingTable {
    const services = new Map<string, ServiceRoute>();
    for (const [name, s] of previous.services) services.set(name, { ...s, instances: [] });
    const alive = new Map<string, InstanceRecord>();
    for (const r of records) {
      alive.set(r.instanceId, r);
      const m = r.service;
      if (!m) continue;
      let s = services.get(m.thriftService);
      if (!s || s.instances.length === 0) {
        s = {
          role: r.role,
          thriftService: m.thriftService,
          stateful: m.stateful,
          methods: new Set(m.methods),
          publicMethods: new Set(m.publicMethods),
          internalMethods: new Set(m.internalMethods),
          idempotentMethods: new Set(m.idempotentMethods),
          instances: [],
        };
        services.set(m.thriftService, s);
      }
      if (!r.draining) s.instances.push(r);
    }
    return new RoutingTable(services, alive);
  }

  service(thriftService: string): ServiceRoute | undefined {
    return this.services.get(thriftService);
  }

  /** Live (draining counts: it still serves what it holds). */
  instance(instanceId: string): InstanceRecord | undefined {
    return this.alive.get(instanceId);
  }

  serviceNames(): string[] {
    return [...this.services.keys()];
  }
}
