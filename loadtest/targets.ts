/**
 * What a load test may hit: by default only loopback hosts (127.0.0.0/8, ::1, localhost) — the
 * BrokerList URL, every broker it lists, every metrics URL — unless the operator passed
 * --allow-remote. A load test pointed at someone else's server by a typo is a denial of service.
 */
import { isIP } from 'node:net';

export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

/** Host of a URL (http://, ws://) or of host:port. */
export function hostOf(target: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) return new URL(target).hostname;
  const m = /^(\[[^\]]+\]|[^:]+):\d+$/.exec(target);
  if (!m) throw new TargetError(`${JSON.stringify(target)} is neither a URL nor host:port`);
  return m[1] as string;
}

/** Throws TargetError when `target` is not loopback and remote targets are not allowed. */
export function checkTarget(what: string, target: string, allowRemote: boolean): void {
  if (allowRemote) return;
  const host = hostOf(target);
  if (!isLoopbackHost(host))
    throw new TargetError(
      `${what} ${target} is not a loopback address; pass --allow-remote to load-test a remote cluster`,
    );
}
