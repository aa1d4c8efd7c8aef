/**
 * Per client address accounting at the edge: one canonical form per address, and the login
 * attempt limit (calls such as `Sso:login` per address per window, across every connection and
 * reconnect of that address).
 *
 * The limit lives here, in the broker's memory, because the broker is the one place that knows a
 * call's client address: the request envelope to a service does not carry it. So the bound is
 * per broker — a client spreading over N brokers gets N times the limit — and starts over when
 * the broker restarts. Addresses are counted one by one: an IPv4 /24 or an IPv6 /64 is not
 * aggregated (one host with many IPv6 addresses gets the limit once per address).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { TokenBucket } from './token-bucket';

/**
 * The form addresses are counted under: an IPv4-mapped IPv6 address as plain IPv4
 * (`::ffff:127.0.0.2` and `::ffff:7f00:2` → `127.0.0.2`), other IPv6 addresses compressed and in
 * lower case (`0:0:0:0:0:0:0:1` → `::1`); anything else (a zone id, `unknown`) as it is, in lower case.
 */
export function normalizeAddress(remote: string): string {
  const a = remote.trim().toLowerCase();
  if (isIPv4(a) || !isIPv6(a)) return a;
  let canonical: string;
  try {
    canonical = new URL(`http://[${a}]/`).hostname.slice(1, -1);
  } catch {
    return a;
  }
  const dotted = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(canonical);
  if (dotted) return dotted[1] as string;
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (hex) {
    const hi = parseInt(hex[1] as string, 16);
    const lo = parseInt(hex[2] as string, 16);
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return canonical;
}

export interface AddressRateLimitOptions {
  /** calls per address per window (also the burst) */
  limit: number;
  windowMs: number;
  /** addresses tracked at once; the least recently seen is forgotten first (default 100 000) */
  maxAddresses?: number;
}

/**
 * A token bucket per address: `limit` tokens, refilled evenly over `windowMs`. Pure apart from
 * its map; the clock is passed in. An address forgotten (map full) starts over with a full bucket.
 */
export class AddressRateLimit {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly maxAddresses: number;
  private readonly ratePerSec: number;

  constructor(private readonly opts: AddressRateLimitOptions) {
    this.maxAddresses = opts.maxAddresses ?? 100_000;
    this.ratePerSec = (opts.limit * 1000) / opts.windowMs;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes one call of `address` (any form: it is normalised); false when it is over its limit. */
  take(address: string, now: number): boolean {
    const key = normalizeAddress(address);
    let b = this.buckets.get(key);
    if (b === undefined) {
      b = new TokenBucket(this.ratePerSec, this.opts.limit, now);
      if (this.buckets.size >= this.maxAddresses) this.buckets.delete(this.buckets.keys().next().value as string);
    } else {
      // most recently seen last: the map's first key is the one to forget
      this.buckets.delete(key);
    }
    this.buckets.set(key, b);
    return b.take(now);
  }
}
