/**
 * Login attempt limits in Kv that slow password guessing without giving anyone a way to lock an
 * account against its owner. Sso does not know a caller's address (the request envelope does not
 * carry it): the per-address bound, across connections and reconnects, is the broker's
 * (`loginAttemptsPerIp`, edge/address-limits.ts). Here, per connection and per account:
 *
 * - **per connection** (`perConnection` per `windowMs`, any accounts): a fixed window from the
 *   first attempt; never cleared (a connection has no business trying 20 logins a minute).
 * - **per (account, connection)**: exponential backoff. After `pairFreeFailures` failures of one
 *   account on one connection, the next attempt there must wait `pairBackoffBaseMs`, doubling with
 *   each failure up to `pairBackoffMaxMs`; an attempt made during the wait is RATE_LIMITED. At most
 *   one attempt per (account, connection) is in flight at a time, so a burst on one connection
 *   cannot race past the backoff. Another connection — the owner's — is not affected.
 * - **per account, from everywhere**: a slow-down, never a refusal. Attempts since the account's
 *   last successful login are counted (before the password is checked, so a concurrent burst is
 *   counted too); past `accountFreeFailures` each attempt waits `accountDelayBaseMs`, doubling, up
 *   to `accountDelayMaxMs` (1 s by default, `--login-delay-max-ms`), then runs. The owner's correct
 *   password always gets in, at worst that much later; a success clears the count.
 *
 * Counting before checking keeps the scrypt Limiter in front of the work. If the Kv is down the
 * limiter fails open (one warning per 10 s): refusing every login because a cache shard died would
 * turn a cache fault into an outage.
 */
import type { Kv } from '../../shared/data/kv';
import type { Logger } from '../../shared/log';
import { LogLimiter } from '../../shared/log-limit';
import { ErrorCode, GameError } from '../../shared/protocol';

export interface LoginLimits {
  /** attempts per connection per window, any accounts */
  perConnection: number;
  windowMs: number;
  /** attempts on an account since its last success that are not slowed */
  accountFreeFailures: number;
  accountDelayBaseMs: number;
  /** the most one attempt is slowed for its account (0: never) */
  accountDelayMaxMs: number;
  /** how long an account's (and an account-connection pair's) failures are remembered */
  accountWindowMs: number;
  /** failures of one account on one connection before the next attempt there has to wait */
  pairFreeFailures: number;
  pairBackoffBaseMs: number;
  pairBackoffMaxMs: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  perConnection: 20,
  windowMs: 60_000,
  accountFreeFailures: 5,
  accountDelayBaseMs: 250,
  accountDelayMaxMs: 1000,
  accountWindowMs: 15 * 60_000,
  pairFreeFailures: 1,
  pairBackoffBaseMs: 1000,
  pairBackoffMaxMs: 30_000,
};

/** An attempt in flight holds its (account, connection) pair at most this long (a crashed instance). */
const IN_FLIGHT_HOLD_MS = 10_000;

function doubling(n: number, free: number, base: number, max: number): number {
  if (n <= free || max <= 0) return 0;
  return Math.min(max, base * 2 ** Math.min(n - free - 1, 30));
}

/** How long the `attempt`-th attempt on an account since its last success waits (1-based). */
export function accountDelayMs(attempt: number, l: LoginLimits): number {
  return doubling(attempt, l.accountFreeFailures, l.accountDelayBaseMs, l.accountDelayMaxMs);
}

/** How long an (account, connection) pair must wait after its `failures`-th failure. */
export function pairBackoffMs(failures: number, l: LoginLimits): number {
  return doubling(failures, l.pairFreeFailures, l.pairBackoffBaseMs, l.pairBackoffMaxMs);
}

/** One admitted password check; exactly one of its three endings must be called. */
export interface LoginAttempt {
  /** how long this attempt was slowed for its account */
  readonly delayedMs: number;
  /** the password was right: the account's count and the pair's backoff start over */
  succeeded(): Promise<void>;
  /** the password (or the user) was wrong */
  failed(): Promise<void>;
  /** neither (the check itself failed): only the pair's hold is released */
  abandoned(): Promise<void>;
}

function rateLimited(message: string): GameError {
  return new GameError({ code: ErrorCode.RATE_LIMITED, message, retryable: true });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class LoginLimiter {
  private readonly warnings = new LogLimiter({ intervalMs: 10_000 });

  constructor(
    private readonly kv: Kv,
    private readonly log: Logger,
    private readonly limits: LoginLimits,
    private readonly wait: (ms: number) => Promise<void> = sleep,
  ) {}

  private accountKey(account: string): string {
    return `sso:logins:acct:${account.toLowerCase()}`;
  }

  private pairKey(account: string, conn: string): string {
    return `sso:logins:pair:${conn}:${account.toLowerCase()}`;
  }

  private holdKey(account: string, conn: string): string {
    return `sso:logins:hold:${conn}:${account.toLowerCase()}`;
  }

  private async bump(key: string, windowMs: number): Promise<number> {
    await this.kv.setIfAbsent(key, '0', windowMs);
    return this.kv.incr(key);
  }

  private unavailable(err: unknown): void {
    if (this.warnings.admit('kv', Date.now()))
      this.log.warn({ err: String(err) }, 'login rate limiter unavailable; allowing attempts (logged once per 10 s)');
  }

  /** Best effort: a Kv error here only loses a count. */
  private async quietly(work: Promise<unknown>): Promise<void> {
    await work.then(
      () => undefined,
      (err: unknown) => this.unavailable(err),
    );
  }

  /** Counts one login-like call of a connection (device login, upgrade); RATE_LIMITED past its limit. */
  async admitConnection(conn: string): Promise<void> {
    let n: number;
    try {
      n = await this.bump(`sso:logins:conn:${conn}`, this.limits.windowMs);
    } catch (err) {
      this.unavailable(err);
      return;
    }
    if (n > this.limits.perConnection) throw rateLimited('too many login attempts on this connection; try again later');
  }

  /**
   * Admits one password check of `account` from `conn`, after its account slow-down; RATE_LIMITED
   * when the connection is over its limit or the pair is backing off.
   */
  async begin(account: string, conn: string): Promise<LoginAttempt> {
    const hold = this.holdKey(account, conn);
    let connCount: number;
    let held: boolean;
    let attempts: number;
    try {
      [connCount, held] = await Promise.all([
        this.bump(`sso:logins:conn:${conn}`, this.limits.windowMs),
        this.kv.setIfAbsent(hold, 'attempt', IN_FLIGHT_HOLD_MS),
      ]);
      if (connCount > this.limits.perConnection) {
        if (held) await this.quietly(this.kv.del(hold));
        throw rateLimited('too many login attempts on this connection; try again later');
      }
      if (!held)
        throw rateLimited('too many failed logins for this account on this connection; wait a moment and retry');
      attempts = await this.bump(this.accountKey(account), this.limits.accountWindowMs);
    } catch (err) {
      if (err instanceof GameError) throw err;
      this.unavailable(err);
      return this.attempt(account, conn, 0);
    }
    const delayedMs = accountDelayMs(attempts, this.limits);
    if (delayedMs > 0) await this.wait(delayedMs);
    return this.attempt(account, conn, delayedMs);
  }

  private attempt(account: string, conn: string, delayedMs: number): LoginAttempt {
    const hold = this.holdKey(account, conn);
    const pair = this.pairKey(account, conn);
    return {
      delayedMs,
      succeeded: () =>
        this.quietly(Promise.all([this.kv.del(this.accountKey(account)), this.kv.del(pair), this.kv.del(hold)])),
      failed: () =>
        this.quietly(
          (async () => {
            const backoff = pairBackoffMs(await this.bump(pair, this.limits.accountWindowMs), this.limits);
            if (backoff > 0) await this.kv.set(hold, 'backoff', backoff);
            else await this.kv.del(hold);
          })(),
        ),
      abandoned: () => this.quietly(this.kv.del(hold)),
    };
  }
}
