/**
 * Bind address versus advertised address. A listener binds `bindHost` (an interface address, or
 * 0.0.0.0 for all of them); what other processes and clients are told to connect to carries the
 * advertised `host` instead, because a wildcard or a private interface address is not something
 * a peer on another machine can dial.
 */
import { isIPv4 } from 'node:net';

/** The address every listener of this process binds: --bind-host, else --host. */
export function bindHostOf(cfg: { host: string; bindHost?: string | undefined }): string {
  return cfg.bindHost ?? cfg.host;
}

/** What a listener may bind: an IPv4 address (ZeroMQ binds interfaces, never resolves names). */
export function isBindableHost(host: string): boolean {
  return isIPv4(host);
}

/** A host name or address other processes can be told to dial (the same rule Yellow applies). */
export function isAdvertisableHost(host: string): boolean {
  return host.length > 0 && host.length <= 255 && /^([A-Za-z0-9.-]+|[0-9A-Fa-f:.]+)$/.test(host);
}

/**
 * `endpoint` with its host replaced by `host`: `tcp://h:p`, `ws://h:p`, `http://h:p/…`, or a bare
 * `h:p` (an IPv6 host in brackets). Anything without a host and port is returned unchanged.
 */
export function advertise(endpoint: string, host: string): string {
  const m = endpoint.match(/^([a-z][a-z0-9+.-]*:\/\/)?(\[[^\]]*\]|[^/:[\]]+):(\d+)(\/.*)?$/i);
  if (!m) return endpoint;
  const shown = host.includes(':') ? `[${host}]` : host;
  return `${m[1] ?? ''}${shown}:${m[3]}${m[4] ?? ''}`;
}

/** Every endpoint of a role, advertised with `host` (values that are not endpoints unchanged). */
export function advertiseAll<T extends object>(endpoints: T, host: string): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(endpoints)) out[k] = typeof v === 'string' ? advertise(v, host) : v;
  return out as T;
}
