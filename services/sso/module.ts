/**
 * The sso service: accounts (scrypt), login with failure backoff (slowed, never locked out),
 * device (guest) accounts and their upgrade, opaque session tokens (Postgres truth, Kv cache),
 * resume and logout. Stateless; its settings come from the process config (--scrypt-n,
 * --session-ttl-ms, --login-delay-max-ms) or from createSsoModule's options (tests).
 */
import { Cache } from '../../shared/data/cache';
import { Pong, Sso } from '../../shared/protocol';
import type { ServiceDef, ServiceModule } from '../../rpc/api';
import { ssoHandlers, type SsoCore } from './handlers';
import { kickElsewhere } from './single-socket';
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
  /** the clock for session expiry (tests) */
  now?: () => number;
}

/** Options given to createSsoModule (tests) win over the process config (--scrypt-n, --session-ttl-ms). */
export function ssoSettings(
  opts: SsoOptions,
  cfg: { scryptN: number; sessionTtlMs: number },
): { scryptN: number; sessionTtlMs: number } {
  const scryptN = opts.scryptN ?? cfg.scryptN;
  if (!validScryptN(scryptN)) throw new Error(`scrypt N ${scryptN} must be a power of two up to 2^20`);
  return { scryptN, sessionTtlMs: opts.sessionTtlMs ?? cfg.sessionTtlMs };
}

export function createSsoModule(opts: SsoOptions = {}): ServiceModule<Sso.IHandler> {
  return {
    role: 'sso',
    migrations: ssoMigrations,
    build(env, { db, kv }): ServiceDef<Sso.IHandler> {
      const { scryptN, sessionTtlMs } = ssoSettings(opts, env.cfg);
      const limiter = new Limiter(opts.hashConcurrency ?? 4, opts.hashQueue ?? 64);
      const cache = new Cache(kv, { ttlMs: opts.sessionCacheMs ?? 30_000, logger: env.logger, namespace: 'cache:' });
      const core: SsoCore = {
        db,
        hasher: new PasswordHasher({ ...DEFAULT_SCRYPT, N: scryptN }, limiter),
        sessions: new SessionStore(db, cache, { ttlMs: sessionTtlMs, ...(opts.now ? { now: opts.now } : {}) }),
        logins: new LoginLimiter(kv, env.logger, {
          ...DEFAULT_LOGIN_LIMITS,
          accountDelayMaxMs: env.cfg.loginDelayMaxMs,
          ...opts.logins,
        }),
        kickElsewhere: kickElsewhere(env, kv),
      };
      return {
        role: 'sso',
        thriftService: 'Sso',
        processor: Sso.Processor,
        stateful: false,
        publicMethods: ['register', 'login', 'resume', 'loginDevice', 'ping'],
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
