/**
 * Client source addresses. One source address reaches one broker endpoint over at most as many
 * connections as the ephemeral port range holds (Linux default 32768–60999: 28 232); past that,
 * players must spread over several loopback sources (127.0.0.1, 127.0.0.2, …); the SDK binds
 * each connection to its source with the `localAddress` option.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { isLoopbackHost } from './targets';

/** Ports one source address can use towards one destination. */
export function portsPerAddress(path = '/proc/sys/net/ipv4/ip_local_port_range'): number {
  try {
    const [lo, hi] = readFileSync(path, 'utf8').trim().split(/\s+/).map(Number);
    if (lo !== undefined && hi !== undefined && hi >= lo) return hi - lo + 1;
  } catch {
    // not Linux: assume the IANA range
  }
  return 16_384;
}

/** 127.0.0.1 … 127.0.0.n (n ≤ 254). */
export function loopbackSources(n: number): string[] {
  if (!Number.isInteger(n) || n < 1 || n > 254)
    throw new Error(`--source-ip-count must be an integer in 1..254, got ${n}`);
  return Array.from({ length: n }, (_, i) => `127.0.0.${i + 1}`);
}

/**
 * The source addresses a run uses: the ones given (each must be a loopback IPv4/IPv6 address), or
 * none (the OS picks). Throws when `players` need more ports than the given addresses have.
 */
export function planSources(players: number, given: string[] | undefined, perAddress = portsPerAddress()): string[] {
  const sources = given ?? [];
  for (const s of sources)
    if (isIP(s) === 0 || !isLoopbackHost(s))
      throw new Error(`source address ${JSON.stringify(s)} is not a loopback IP address`);
  const needed = Math.ceil(players / perAddress);
  if (needed > Math.max(1, sources.length)) {
    throw new Error(
      `${players} players need ${needed} source addresses (${perAddress} ports each); pass --source-ip-count ${needed}`,
    );
  }
  return sources;
}
