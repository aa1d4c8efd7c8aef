/** What a game service declares and what its handlers see. Logic never touches a socket. */
import type { Logger } from '../../shared/log';
import type { ServiceClients } from './clients';

/** The generated IHandler with a CallContext appended to every method's arguments. */
export type WithContext<H> = {
  [K in keyof H]: H[K] extends (...args: infer A) => infer R ? (...args: [...A, CallContext]) => R : never;
};

export interface CallContext {
  /** follows the call from the broker through every service it reaches */
  traceId: string;
  /** '' before login */
  sessionId: string;
  userId: string;
  /** the session's display name ('' before login) */
  username: string;
  /** instance id of the broker (or service) this call came through */
  via: string;
  /** absolute deadline (Date.now() ms); nested calls inherit the smaller of theirs and this */
  deadline: number;
  log: Logger;
  instanceId: string;
  /** awaitable clients of the other services, with this call's session, trace and deadline */
  services: ServiceClients;
  /** clients whose calls all go to one instance (e.g. the owner of a room); UNAVAILABLE if it is gone */
  servicesAt(instanceId: string): ServiceClients;
  /** the live instance of this service that owns `key` (rendezvous hash) */
  ownerOf(key: string): string | undefined;
  /** make the caller's connection logged in as this session (sso only) */
  authenticate(session: { sessionId: string; userId: string; username: string }): void;
  logout(): void;
  /** route this session's later calls to `instanceId` (default: this instance) for this stateful service */
  bind(sessionId?: string, instanceId?: string): void;
  unbind(sessionId?: string): void;
  /** have the caller's broker deliver messages of this room topic to the caller */
  subscribe(topic: string, publisherInstanceId?: string): void;
  unsubscribe(topic: string): void;
}

/** Declares a service: the broker learns everything it needs from this through Yellow. */
export interface ServiceDef<H> {
  /** the role name: 'player' */
  role: string;
  /** the Thrift service name in multiplexed calls: 'Player' */
  thriftService: string;
  processor: new (handler: H) => { process(input: unknown, output: unknown): void };
  stateful: boolean;
  /** callable before login */
  publicMethods?: readonly (keyof H & string)[];
  /** read-only or keyed by idempotency ids: retried once on another instance */
  idempotentMethods?: readonly (keyof H & string)[];
  /** service-to-service only; refused from clients */
  internalMethods?: readonly (keyof H & string)[];
  handlers: WithContext<H>;
}
