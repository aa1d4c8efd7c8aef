/** How a game service plugs into `noon start <role>` and `noon up`: migrations plus a builder. */
import type { Db } from '../../shared/data/sql';
import type { Kv } from '../../shared/data/kv';
import type { Migration } from '../../shared/data/migrate';
import type { ServiceEnv } from './runtime';
import type { ServiceDef } from './types';

/** Data handles shared by every service of a process (one PGlite may serve them all in `noon up`). */
export interface ServiceDeps {
  db: Db;
  kv: Kv;
}

export interface ServiceModule<H = unknown> {
  role: string;
  migrations: readonly Migration[];
  build(env: ServiceEnv, deps: ServiceDeps): ServiceDef<H> | Promise<ServiceDef<H>>;
}

/**
 * A module of any service, for lists of modules (`noon up`, test clusters). TypeScript has no
 * existential types; each module is still checked against its own handler interface where it
 * is defined.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyServiceModule = ServiceModule<any>;
