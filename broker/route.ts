/**
 * The broker's routing decision: a pure function of the call, the connection's session and the
 * routing table. Stateless services go to the least-loaded instance; stateful ones to the bound
 * instance, else to the rendezvous owner of the session id (every broker agrees without talking).
 */
import { rendezvous } from '../shared/hashing';
import type { ErrorCode } from '../shared/errors';
import type { InstanceRecord } from '../yellow/types';
import type { RoutingTable, ServiceRoute } from './routing-table';

export interface CallTarget {
  service: string;
  method: string;
}

export interface SessionView {
  /** '' before login */
  sessionId: string;
  userId: string;
  /** role -> instance id, for stateful services */
  bindings: ReadonlyMap<string, string>;
}

export type Route =
  | { kind: 'forward'; instance: InstanceRecord; service: ServiceRoute; idempotent: boolean; bindNow: boolean }
  | { kind: 'reject'; code: ErrorCode; detail: string };

export type Chooser = (candidates: InstanceRecord[], exclude: ReadonlySet<string>) => InstanceRecord | undefined;

const reject = (code: ErrorCode, detail: string): Route => ({ kind: 'reject', code, detail });

export function route(
  call: CallTarget,
  session: SessionView,
  table: RoutingTable,
  choose: Chooser,
  exclude: ReadonlySet<string> = new Set(),
): Route {
  const name = `${call.service}:${call.method}`;
  const svc = table.service(call.service);
  // An unknown service (never deployed, or switched off in the project) is named as such.
  if (!svc) return reject('UNKNOWN_METHOD', `${name}: no service ${call.service} runs in this cluster`);
  if (!svc.methods.has(call.method)) return reject('UNKNOWN_METHOD', `${name} is not a known method`);
  if (svc.internalMethods.has(call.method)) return reject('FORBIDDEN', `${name} is internal to the services`);
  if (!session.userId && !svc.publicMethods.has(call.method))
    return reject('UNAUTHENTICATED', `log in before calling ${name}`);
  const idempotent = svc.idempotentMethods.has(call.method);
  if (!svc.stateful || !session.sessionId || !session.userId) {
    const target = choose(svc.instances, exclude);
    return target
      ? { kind: 'forward', instance: target, service: svc, idempotent, bindNow: false }
      : reject('UNAVAILABLE', `${svc.thriftService} has no live instance`);
  }
  const bound = session.bindings.get(svc.role);
  if (bound !== undefined) {
    const inst = table.instance(bound);
    if (!inst) return reject('STATE_LOST', `${svc.role} instance ${bound} holding this session is gone`);
    return { kind: 'forward', instance: inst, service: svc, idempotent, bindNow: false };
  }
  const owner = rendezvous(
    session.sessionId,
    svc.instances.map((i) => i.instanceId),
  );
  const inst = owner === undefined ? undefined : table.instance(owner);
  return inst
    ? { kind: 'forward', instance: inst, service: svc, idempotent, bindNow: true }
    : reject('UNAVAILABLE', `${svc.thriftService} has no live instance`);
}
