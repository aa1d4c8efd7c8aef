/**
 * The broker's routing decision: a pure function of the call, the connection's session and the
 * routing table. Only instances that serve the method are candidates (instances of one service may
 * run different releases). Stateless services go to the least-loaded one; stateful ones to the
 * bound instance, else to the rendezvous owner of the session id among them (every broker agrees
 * without talking). A durable service's session whose bound instance is gone is placed anew.
 */
import { rendezvous } from '../shared/hashing';
import type { ErrorCode } from '../shared/errors';
import type { InstanceRecord } from '../yellow/types';
import type { MethodRoute, RoutingTable, ServiceRoute } from './routing-table';

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
  const method = svc.methods.get(call.method);
  if (!method) return reject('UNKNOWN_METHOD', `${name} is not a known method`);
  if (method.internal) return reject('FORBIDDEN', `${name} is internal to the services`);
  const anonymous = !session.userId;
  if (anonymous && !method.public) return reject('UNAUTHENTICATED', `log in before calling ${name}`);
  // Only the instances whose release serves the method (a rolling deploy runs several releases).
  const candidates = anonymous ? method.publicInstances : method.instances;
  const { idempotent } = method;
  if (!svc.stateful || !session.sessionId || anonymous) {
    if (candidates.length === 0) return unserved(name, svc, method);
    const target = choose(candidates, exclude);
    return target
      ? { kind: 'forward', instance: target, service: svc, idempotent, bindNow: false }
      : reject('UNAVAILABLE', `${svc.thriftService} has no live instance`);
  }
  const bound = session.bindings.get(svc.role);
  const boundInst = bound === undefined ? undefined : table.instance(bound);
  // A durable service's state outlives the instance: the session is placed anew (below).
  if (bound !== undefined && boundInst === undefined && !svc.durable)
    return reject('STATE_LOST', `${svc.role} instance ${bound} holding this session is gone`);
  if (bound !== undefined && boundInst !== undefined) {
    // The session's state lives there: another instance would not have it.
    if (!boundInst.service?.methods.includes(call.method))
      return reject(
        'UNAVAILABLE',
        `${name}: ${svc.role} instance ${bound} holding this session runs a release without it`,
      );
    return { kind: 'forward', instance: boundInst, service: svc, idempotent, bindNow: false };
  }
  if (candidates.length === 0) return unserved(name, svc, method);
  const owner = rendezvous(
    session.sessionId,
    candidates.map((i) => i.instanceId),
  );
  const inst = owner === undefined ? undefined : table.instance(owner);
  return inst
    ? { kind: 'forward', instance: inst, service: svc, idempotent, bindNow: true }
    : reject('UNAVAILABLE', `${svc.thriftService} has no live instance`);
}

/** A known method no live instance takes: not the client's fault (no strike), and named. */
function unserved(name: string, svc: ServiceRoute, method: MethodRoute): Route {
  const live = svc.instances.length;
  if (live === 0) return reject('UNAVAILABLE', `${svc.thriftService} has no live instance`);
  // Served, but not before login on any live instance: a release that opened it drains.
  const how = method.instances.length > 0 ? ' before login' : '';
  return reject(
    'UNAVAILABLE',
    `${name}: none of the ${live} live ${svc.thriftService} instance${live === 1 ? '' : 's'} serves it${how} (its release is not running yet, or not any more)`,
  );
}
