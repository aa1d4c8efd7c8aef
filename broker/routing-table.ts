/**
 * What the broker knows about every Thrift service, learned from Yellow, per method and per
 * instance: during a rolling deploy instances of one service run different releases, so each
 * method routes only to the instances that announce it. A method's flags combine what its
 * instances announce (see MethodRoute). A service whose every instance died, and a method whose
 * every instance died, stay known, so their callers get UNAVAILABLE rather than UNKNOWN_METHOD.
 * An instance announcing a service its role may not serve (shared/service-roles.ts) is left out:
 * Yellow refuses such a registration when keys are on, and the table does not trust that alone.
 */
import { mayServe } from '../shared/service-roles';
import type { InstanceRecord } from '../yellow/types';

/** The Thrift services a role may serve besides its own name's (the keyring's grants); none by default. */
export type ServiceGrants = (role: string) => readonly string[];

export interface MethodRoute {
  /** live instances taking new work that serve it */
  instances: InstanceRecord[];
  /** of those, the ones that take it before login */
  publicInstances: InstanceRecord[];
  /** some instance announcing it (draining or not) takes it before login */
  public: boolean;
  /**
   * Internal on any instance announcing it (draining ones too): refused from clients. A release
   * that closes a method to clients is obeyed at once, not once its older twins are gone.
   */
  internal: boolean;
  /** Idempotent only when every instance announcing it says so: a retry may land on any of them. */
  idempotent: boolean;
}

export interface ServiceRoute {
  role: string;
  thriftService: string;
  /** stateful when any instance says so: binding a stateless call costs nothing, losing state does */
  stateful: boolean;
  /** durable only when every instance says so: a session then moves when its instance is gone */
  durable: boolean;
  /** every method an instance announces, and those announced earlier by instances now gone */
  methods: ReadonlyMap<string, MethodRoute>;
  /** live instances that take new work (draining ones left out) */
  instances: InstanceRecord[];
}

interface Building {
  role: string;
  thriftService: string;
  stateful: boolean;
  durable: boolean;
  methods: Map<string, MethodRoute>;
  instances: InstanceRecord[];
}

const gone = (m: MethodRoute): MethodRoute => ({ ...m, instances: [], publicInstances: [] });

export class RoutingTable {
  private constructor(
    private readonly services: ReadonlyMap<string, ServiceRoute>,
    private readonly alive: ReadonlyMap<string, InstanceRecord>,
  ) {}

  static empty(): RoutingTable {
    return new RoutingTable(new Map(), new Map());
  }

  /** `records` includes draining instances; `previous` keeps services and methods that lost every instance. */
  static build(
    records: readonly InstanceRecord[],
    previous: RoutingTable = RoutingTable.empty(),
    grants: ServiceGrants = () => [],
  ): RoutingTable {
    const services = new Map<string, Building>();
    const alive = new Map<string, InstanceRecord>();
    const granted = new Map<string, readonly string[]>();
    const grantsOf = (role: string): readonly string[] => {
      let g = granted.get(role);
      if (!g) granted.set(role, (g = grants(role)));
      return g;
    };
    for (const r of records) {
      alive.set(r.instanceId, r);
      const m = r.service;
      if (!m || !mayServe(r.role, m.thriftService, grantsOf(r.role))) continue;
      let s = services.get(m.thriftService);
      if (!s) {
        s = {
          role: r.role,
          thriftService: m.thriftService,
          stateful: false,
          durable: true,
          methods: new Map(),
          instances: [],
        };
        services.set(m.thriftService, s);
      }
      s.stateful ||= m.stateful;
      s.durable &&= m.durable === true;
      if (!r.draining) s.instances.push(r);
      // Rebuilt on every load heartbeat: plain arrays (a handful of names each), no sets.
      for (const name of m.methods) {
        let route = s.methods.get(name);
        if (!route) {
          route = { instances: [], publicInstances: [], public: false, internal: false, idempotent: true };
          s.methods.set(name, route);
        } else if (route.instances.at(-1) === r) continue; // a name announced twice
        const isPublic = m.publicMethods.includes(name);
        route.public ||= isPublic;
        route.internal ||= m.internalMethods.includes(name);
        route.idempotent &&= m.idempotentMethods.includes(name);
        if (r.draining) continue;
        route.instances.push(r);
        if (isPublic) route.publicInstances.push(r);
      }
    }
    for (const [name, old] of previous.services) {
      const s = services.get(name);
      if (!s) {
        services.set(name, { ...old, methods: new Map([...old.methods].map(([n, m]) => [n, gone(m)])), instances: [] });
        continue;
      }
      for (const [method, m] of old.methods) if (!s.methods.has(method)) s.methods.set(method, gone(m));
    }
    return new RoutingTable(services, alive);
  }

  service(thriftService: string): ServiceRoute | undefined {
    return this.services.get(thriftService);
  }

  /** The service whose instances register as `role`. */
  serviceOfRole(role: string): ServiceRoute | undefined {
    for (const s of this.services.values()) if (s.role === role) return s;
    return undefined;
  }

  /** Live (draining counts: it still serves what it holds). */
  instance(instanceId: string): InstanceRecord | undefined {
    return this.alive.get(instanceId);
  }

  serviceNames(): string[] {
    return [...this.services.keys()];
  }
}
