/**
 * The sso service: accounts (scrypt), login with failure rate limits, opaque session tokens
 * (Postgres truth, Kv cache), resume and logout. Stateless; its settings come from the
 * environment (NOON_SCRYPT_N, NOON_SESSION_TTL_MS) or from createSsoModule's options (tests).
 */
import { Cache } from '../../shared/data/cache';
import { Pong, Sso } from '../../shared/protocol';
import type { ServiceModule } from '../framework/module';
import type { ServiceDef } from '../framework/types';
import { ssoHandlers, type SsoCore } from './handlers';
import { Limiter } from './limiter';
import { ssoMigrations } from './migrations';
import { DEFAULT_SCRYPT, PasswordHasher, validScryptN } from './password';
import { DEFAULT_LOGIN_LIMITS, LoginLimiter, type LoginLimits } from './ratelimit';
import { SessionStore } from './sessions';

export interface SsoOptions {
  /** scrypt cost N (power of two); default NOON_SCRYPT_N, else 2^17 */
  scryptN?: number;
  /** session lifetime, ms; default NOON_SESSION_TTL_MS, else 24 h */
  sessionTtlMs?: number;
  /** how long a session stays in the Kv cache, ms (bounds revocation lag with a dead shard) */
  sessionCacheMs?: number;
  /** hashes running at once (the libuv pool has 4 threads) and waiting (then BUSY) */
  hashConcurrency?: number;
  hashQueue?: number;
  logins?: Partial<LoginLimits>;
  env?: NodeJS.ProcessEnv;
  /** the clock for session expiry (tests) */
  now?: () => number;
}

function intOption(name: string, raw: string | undefined, fallback: number, ok: (n: number) => boolean): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!ok(n)) throw new Error(`${name}=${JSON.stringify(raw)} is invalid`);
  return n;
}

export function ssoSettings(opts: SsoOptions): { scryptN: number; sessionTtlMs: number } {
  const env = opts.env ?? process.env;
  const scryptN = opts.scryptN ?? intOption('NOON_SCRYPT_N', env.NOON_SCRYPT_N, DEFAULT_SCRYPT.N, validScryptN);
  if (!validScryptN(scryptN)) throw new Error(`scrypt N ${scryptN} must be a power of two up to 2^20`);
  const sessionTtlMs = opts.sessionTtlMs ?? intOption('NOON_SESSION_TTL_MS', env.NOON_SESSION_TTL_MS, 24 * 3600_000, (n) => Number.isSafeInteger(n) && n >= 1000);
  return { scryptN, sessionTtlMs };
}

export function createSsoModule(opts: SsoOptions = {}): ServiceModule<Sso.IHandler> {
  return {
    role: 'sso',
    migrations: ssoMigrations,
    build(env, { db, kv }): ServiceDef<Sso.IHandler> {
      const { scryptN, sessionTtlMs } = ssoSettings(opts);
      const limiter = new Limiter(opts.hashConcurrency ?? 4, opts.hashQueue ?? 64);
      const cache = new Cache(kv, { ttlMs: opts.sessionCacheMs ?? 30_000, logger: env.logger, namespace: 'cache:' });
      const core: SsoCore = {
        db,
        hasher: new PasswordHasher({ ...DEFAULT_SCRYPT, N: scryptN }, limiter),
        sessions: new SessionStore(db, cache, { ttlMs: sessionTtlMs, ...(opts.now ? { now: opts.now } : {}) }),
        logins: new LoginLimiter(kv, env.logger, { ...DEFAULT_LOGIN_LIMITS, ...opts.logins }),
      };
      return {
        role: 'sso',
        thriftService: 'Sso',
        processor: Sso.Processor,
        stateful: false,
        publicMethods: ['register', 'login', 'resume', 'ping'],
        idempotentMethods: ['resume', 'ping'],
        handlers: {
          ...ssoHandlers(core),
          ping: () => new Pong({ instance: env.instanceId, serviceName: 'sso', serverTimeMs: Date.now() }),
        },
      };
    },
  };
}

export const ssoModule = createSsoModule();
