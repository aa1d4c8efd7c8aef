/**
 * Fake Yellow records for the routing specs. Only what routing reads varies (id, role, service
 * methods, draining); the rest is fixed filler, so a case lists nothing but what it is about.
 */
import type { InstanceRecord, ServiceMethods } from '../../yellow/types';

/** A Thrift service as one instance announces it; the method lists default to empty. */
export interface FakeService {
  role: string;
  thriftService: string;
  methods: string[];
  publicMethods?: string[];
  idempotentMethods?: string[];
  internalMethods?: string[];
  stateful?: boolean;
  durable?: boolean;
}

/** An instance of a service role, as Yellow reports it. */
export function serviceInstance(
  instanceId: string,
  svc: FakeService,
  opts: { draining?: boolean } = {},
): InstanceRecord {
  const { role, ...announced } = svc;
  const service: ServiceMethods = {
    publicMethods: [],
    idempotentMethods: [],
    internalMethods: [],
    stateful: false,
    ...announced,
  };
  return { ...plainInstance(instanceId, role), service, draining: opts.draining ?? false };
}

/** An instance without service methods: a broker, Yellow, BrokerList. */
export function plainInstance(instanceId: string, role: string): InstanceRecord {
  return {
    role,
    instanceId,
    host: '127.0.0.1',
    endpoints: { router: `tcp://127.0.0.1:7000#${instanceId}` },
    version: 'test',
    pid: 1,
    startedAt: 0,
    load: { inFlight: 0, elu: 0 },
    draining: false,
    lastHeartbeat: 0,
    epoch: 1,
  };
}
