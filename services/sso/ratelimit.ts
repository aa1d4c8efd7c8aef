/**
 * Login attempt limits in Kv, per account and per connection, each a fixed window that starts at
 * the first attempt (SET NX with a TTL, then INCR, which keeps the TTL).
 *
 * An attempt is counted *before* the password is checked, so a burst of concurrent guesses cannot
 * all slip past a check-then-count race; a successful login clears its account's counter, so the
 * account limit is in effect "failures since the last success". The connection counter is not
 * cleared (a connection has no business trying 20 logins a minute).
 *
 * If the Kv is down the limiter fails open (logged): the scrypt Limiter still bounds the work, and
 * refusing every login because a cache shard died would turn a cache fault into an outage.
 */
import type { Kv } from '../../shared/data/kv';
import type { Logger } from '../../shared/log';
import { ErrorCode, GameError } from '../../shared/protocol';

export interface LoginLimits {
  perAccount: number;
  perConnection: number;
  windowMs: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { perAccount: 5, perConnection: 20, windowMs: 60_000 };

export class LoginLimiter {
  constructor(
    private readonly kv: Kv,
    private readonly log: Logger,
    private readonly limits: LoginLimits,
  ) {}

  private accountKey(account: string): string {
    return `sso:logins:acct:${account.toLowerCase()}`;
  }

  private async bump(key: string): Promise<number> {
    await this.kv.setIfAbsent(key, '0', this.limits.windowMs);
    return this.kv.incr(key);
  }

  /** Counts one attempt; RATE_LIMITED when the account or the connection is past its limit. */
  async admit(account: string, conn: string): Promise<void> {
    let counts: [number, number];
    try {
      counts = [await this.bump(this.accountKey(account)), await this.bump(`sso:logins:conn:${conn}`)];
    } catch (err) {
      this.log.warn({ err: String(err) }, 'login rate limiter unavailable; allowing the attempt');
      return;
    }
    if (counts[0] > this.limits.perAccount || counts[1] > this.limits.perConnection) {
      throw new GameError({
        code: ErrorCode.RATE_LIMITED,
        message: 'too many login attempts; try again later',
        retryable: true,
      });
    }
  }

  async succeeded(account: string): Promise<void> {
    await this.kv.del(this.accountKey(account)).catch(() => false);
  }
}
