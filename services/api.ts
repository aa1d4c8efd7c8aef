/**
 * What a studio imports as `noon` (or `noon/service`): the service API, the error types, the
 * built-in service modules, and helpers to push a studio's own events and to extend a built-in.
 * docs/service-api.md is the guide; everything here is re-exported or small glue.
 */
import { onewayCall } from '../shared/thrift/events';
import type { ThriftProtocol } from '../shared/thrift/header';
import type { AnyServiceModule, ServiceDef, ServiceModule, WithContext } from '../rpc/api';
import { BUILTIN_MODULES } from './index';

export type {
  AnyServiceModule,
  CallContext,
  ClientClass,
  Directive,
  DirectiveBuilder,
  PeerView,
  ServiceClients,
  ServiceDef,
  ServiceDeps,
  ServiceEnv,
  ServiceModule,
  WithContext,
  DeliveryContext,
  DeliveryHandler,
  EnqueueOptions,
  EventHandler,
  EventType,
  JobHandler,
  JobType,
  StructClass,
} from '../rpc/api';
export { DEFAULT_MAX_ATTEMPTS, defineEvent, defineJob, handleJob, JobRefused, onEvent } from '../rpc/api';
export type { Db, Queryable } from '../shared/data/sql';
export type { Kv } from '../shared/data/kv';
export type { Migration } from '../shared/data/migrate';
export type { Logger } from '../shared/log';
export { NoonError, ErrorCodes, type ErrorCode } from '../shared/errors';
export { NOON_VERSION } from '../shared/identity';
export * as protocol from '../shared/protocol';
export { BUILTIN_MODULES, builtinModule } from './index';

// The built-ins' module factories and their rule hooks, for a project that extends one.
export { createSsoModule, type SsoOptions } from './sso/module';
export { createPlayerModule, type PlayerModuleOptions } from './player/module';
export {
  decideRound,
  roundOutcome,
  standardRoundRule,
  type RoundInput,
  type RoundOutcome,
  type RoundRule,
} from './player/rules';
export type { ReceiptVerifier, VerifiedPurchase } from './player/receipts/types';
export { createDuelModule, duelRules, standardRules, type DuelModuleOptions, type DuelRules } from './duel';
export type { Action as DuelRuleAction, Game as DuelGame, Outcome as DuelOutcome } from './duel/rules';
export { leaderboardModule } from './leaderboard';
export { chatModule } from './chat';

/**
 * A push: the ONEWAY message `Service:method` with seqid 0 whose arguments are the generated
 * `…Args` struct of a oneway method in the studio's IDL, e.g.
 * `ctx.push(pushMessage('GreeterEvents', 'greeted', new GreeterEvents.GreetedArgs({ greeting })))`.
 * Built in compact; the broker rewrites it for a client that speaks binary.
 */
export function pushMessage(
  service: string,
  method: string,
  args: Parameters<typeof onewayCall>[1],
  protocol: ThriftProtocol = 'compact',
): Buffer {
  return onewayCall(`${service}:${method}`, args, protocol);
}

/** What a studio changes in a module it extends; every other part stays the built-in's. */
export interface ModuleExtension<H> {
  /**
   * Handlers that replace the built-in's (same signatures: a wrong one is a compile error). Given
   * the built-in's handlers, so a replacement may check first and then call the original.
   */
  handlers?(original: WithContext<H>): Partial<WithContext<H>>;
  /** more migrations, applied after the built-in's (their names must not clash) */
  migrations?: ServiceModule<H>['migrations'];
  /** a last word on the whole definition (e.g. more idempotent methods) */
  define?(def: ServiceDef<H>): ServiceDef<H>;
  /** more job handlers for the worker, beside the built-in's */
  jobs?: ServiceModule<H>['jobs'];
}

/** A built-in (or any) module with some handlers replaced: the studio's own catalog, round or duel rules. */
export function extendModule<H>(base: ServiceModule<H>, ext: ModuleExtension<H>): ServiceModule<H> {
  return {
    role: base.role,
    migrations: [...base.migrations, ...(ext.migrations ?? [])],
    jobs: [...(base.jobs ?? []), ...(ext.jobs ?? [])],
    async build(env, deps) {
      const def = await base.build(env, deps);
      const handlers = { ...def.handlers, ...ext.handlers?.(def.handlers) } as WithContext<H>;
      const merged: ServiceDef<H> = { ...def, handlers };
      return ext.define ? ext.define(merged) : merged;
    },
  };
}

/** The module list a project runs: the built-ins it keeps, then its own (which may replace a built-in by role). */
export function projectModules(
  own: readonly AnyServiceModule[],
  builtins: Readonly<Record<string, boolean>> = {},
): AnyServiceModule[] {
  const ownRoles = new Set(own.map((m) => m.role));
  const kept = BUILTIN_MODULES.filter((m) => builtins[m.role] !== false && !ownRoles.has(m.role));
  return [...kept, ...own];
}
