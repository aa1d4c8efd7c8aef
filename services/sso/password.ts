/**
 * Password hashing: scrypt (memory-hard), async API only, every hash and verify through one
 * bounded Limiter (the libuv pool has 4 threads; more at once only queues inside libuv, where
 * nothing bounds it). Stored format: `scrypt$N$r$p$<salt b64url>$<key b64url>`, so hashes made
 * with an older N still verify after the setting changes.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Limiter } from './limiter';

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };
const KEY_LEN = 32;
const SALT_LEN = 16;
/** Node's default maxmem (32 MiB) fails at N=2^17, r=8 (128 MiB needed); we give it 256 MiB (docs/limits.md). */
const MIN_MAXMEM = 256 * 1024 * 1024;
/** Refuse absurd parameters read back from a stored hash (a corrupt row must not eat the host). */
const MAX_LOG_N = 20;

function scryptAsync(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const opts: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    maxmem: Math.max(MIN_MAXMEM, 256 * params.N * params.r),
  };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, KEY_LEN, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export function validScryptN(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 2 && n <= 2 ** MAX_LOG_N && (n & (n - 1)) === 0;
}

interface Parsed {
  params: ScryptParams;
  salt: Buffer;
  key: Buffer;
}

function parse(stored: string): Parsed | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (!validScryptN(N) || !(r >= 1 && r <= 32) || !(p >= 1 && p <= 4)) return undefined;
  const salt = Buffer.from(parts[4] ?? '', 'base64url');
  const key = Buffer.from(parts[5] ?? '', 'base64url');
  if (salt.length === 0 || key.length !== KEY_LEN) return undefined;
  return { params: { N, r, p }, salt, key };
}

export class PasswordHasher {
  private dummy: Promise<string> | undefined;

  constructor(
    private readonly params: ScryptParams,
    private readonly limiter: Limiter,
  ) {}

  hash(password: string): Promise<string> {
    return this.limiter.run(async () => {
      const salt = randomBytes(SALT_LEN);
      const key = await scryptAsync(password, salt, this.params);
      const { N, r, p } = this.params;
      return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
    });
  }

  /** Constant-time comparison; false for a wrong password or an unreadable stored hash. */
  verify(password: string, stored: string): Promise<boolean> {
    const parsed = parse(stored);
    if (parsed === undefined) return this.burn(password);
    return this.limiter.run(async () => {
      const key = await scryptAsync(password, parsed.salt, parsed.params);
      return timingSafeEqual(key, parsed.key);
    });
  }

  /**
   * Costs what a real verify costs and always fails: used for unknown usernames, so response time
   * does not tell which usernames exist.
   */
  async burn(password: string): Promise<false> {
    if (this.dummy === undefined) {
      const made = this.hash(randomBytes(16).toString('hex'));
      made.catch(() => {
        if (this.dummy === made) this.dummy = undefined; // e.g. BUSY: make it again next time
      });
      this.dummy = made;
    }
    const dummy = await this.dummy;
    const parsed = parse(dummy);
    if (parsed !== undefined) await this.limiter.run(() => scryptAsync(password, parsed.salt, parsed.params));
    return false;
  }
}
