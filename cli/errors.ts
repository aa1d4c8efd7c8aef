/**
 * One line that says what failed when a command cannot start or run: which listener could not
 * bind which port, which store (Postgres, Redis) refused a connection at which host:port. The
 * stack is for debug output only; a person running `noon up` needs the cause, not node's frames.
 */
import { flagName, type Config, type ConfigKey } from '../shared/config';

/** The public listeners a config names, by the option that sets their port. */
const LISTENERS: Array<{ key: ConfigKey; name: string }> = [
  { key: 'yellowPort', name: 'Yellow (ZeroMQ ROUTER)' },
  { key: 'yellowPubPort', name: 'Yellow (ZeroMQ PUB)' },
  { key: 'serviceRouterPort', name: 'service (ZeroMQ ROUTER for brokers)' },
  { key: 'serviceInternalPort', name: 'service (ZeroMQ ROUTER for services)' },
  { key: 'servicePubPort', name: 'service (ZeroMQ PUB)' },
  { key: 'brokerPort', name: 'broker TCP' },
  { key: 'brokerWsPort', name: 'broker WS' },
  { key: 'brokerTlsPort', name: 'broker TLS' },
  { key: 'brokerWssPort', name: 'broker WSS' },
  { key: 'brokerlistPort', name: 'BrokerList HTTP' },
  { key: 'brokerlistHttpsPort', name: 'BrokerList HTTPS' },
  { key: 'consolePort', name: 'console HTTP' },
  { key: 'metricsPort', name: 'metrics (/metrics HTTP)' },
];

/** The listeners a role of this config binds on `port` (a port of 0 never clashes). */
export function listenersOn(cfg: Config, port: number): Array<{ key: ConfigKey; name: string }> {
  if (port === 0) return [];
  return LISTENERS.filter((l) => cfg[l.key] === port);
}

interface SysError {
  code?: unknown;
  port?: unknown;
  address?: unknown;
  message?: unknown;
  errors?: unknown;
}

/** The system error under a wrapper: itself, or the first of an AggregateError (::1 then 127.0.0.1). */
function sysError(err: unknown): SysError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as SysError;
  if (typeof e.code === 'string') return e;
  if (Array.isArray(e.errors)) return e.errors.map(sysError).find((x) => x !== undefined);
  return undefined;
}

/** host and port of an error: node's fields, else `tcp://host:port` (ZeroMQ) or the message's tail. */
function whereOf(e: SysError): { host?: string; port?: number } {
  const fromText = (t: unknown): { host?: string; port?: number } => {
    const m = typeof t === 'string' ? /(?:\/\/)?([\w.-]+|\[[0-9a-f:.]+\]):(\d+)\s*$/i.exec(t) : null;
    return m ? { host: m[1] as string, port: Number(m[2]) } : {};
  };
  if (typeof e.port === 'number') return { ...(typeof e.address === 'string' && { host: e.address }), port: e.port };
  const a = fromText(e.address);
  return a.port !== undefined ? a : fromText(e.message);
}

function hostPortOf(url: string): { host: string; port: number } | undefined {
  try {
    const u = new URL(url);
    const port = u.port ? Number(u.port) : /^rediss?:|^sentinel:/.test(u.protocol) ? 6379 : 5432;
    return { host: u.hostname, port };
  } catch {
    return undefined;
  }
}

const CONNECT_CODES: Record<string, string> = {
  ECONNREFUSED: 'refused the connection (is it running, on that port?)',
  ENOTFOUND: 'has a host name that does not resolve',
  EAI_AGAIN: 'has a host name that does not resolve (yet)',
  ETIMEDOUT: 'did not answer in time',
  EHOSTUNREACH: 'is not reachable from this host',
  ECONNRESET: 'closed the connection',
};

/** Which configured store an address belongs to: Postgres (--pg-url) or a Redis shard (--redis). */
function storeAt(cfg: Config | undefined, host: string | undefined, port: number | undefined): string | undefined {
  if (!cfg) return undefined;
  const same = (url: string): boolean => {
    const hp = hostPortOf(url);
    return (
      hp !== undefined && (port === undefined || hp.port === port) && (host === undefined || samehost(hp.host, host))
    );
  };
  if (cfg.pgUrl !== undefined && same(cfg.pgUrl)) {
    const hp = hostPortOf(cfg.pgUrl) as { host: string; port: number };
    return `Postgres at ${hp.host}:${hp.port} (--pg-url / NOON_PG_URL)`;
  }
  const shard = cfg.redis.find(same);
  if (shard !== undefined) {
    const hp = hostPortOf(shard) as { host: string; port: number };
    return `Redis at ${hp.host}:${hp.port} (--redis / NOON_REDIS)`;
  }
  return undefined;
}

function samehost(a: string, b: string): boolean {
  const loop = (h: string): string => (h === 'localhost' || h === '::1' || h === '[::1]' ? '127.0.0.1' : h);
  return loop(a) === loop(b) || b === a.replace(/^\[|\]$/g, '');
}

/** The cause in words, or undefined when the error is not one we know how to name. */
export function explain(err: unknown, cfg?: Config): string | undefined {
  const e = sysError(err);
  if (!e || typeof e.code !== 'string') return undefined;
  const { host, port } = whereOf(e);
  if (e.code === 'EADDRINUSE') {
    const at = `${host ?? cfg?.bindHost ?? cfg?.host ?? ''}:${port ?? '?'}`;
    const listeners = cfg && port !== undefined ? listenersOn(cfg, port) : [];
    if (listeners.length === 0) return `port ${port ?? '?'} is already in use: cannot listen on ${at}`;
    const flags = listeners.map((l) => `--${flagName(l.key)}`).join(' / ');
    return `port ${port} is already in use: the ${listeners.map((l) => l.name).join(' or ')} listener cannot bind ${at} (another process holds it: stop it, or choose another port with ${flags}, 0 for any)`;
  }
  if (e.code === 'EACCES' && e.message !== undefined && /listen|bind/i.test(String(e.message)))
    return `not allowed to listen on ${host ?? ''}:${port ?? '?'} (ports below 1024 need privileges)`;
  const what = CONNECT_CODES[e.code];
  if (what === undefined) return undefined;
  // by address, else by port alone: a host name resolves to an address the error shows instead
  const store = storeAt(cfg, host, port) ?? (port !== undefined ? storeAt(cfg, undefined, port) : undefined);
  if (store !== undefined) return `${store} ${what}`;
  // getaddrinfo errors carry the host name only (no port)
  const hostOnly =
    typeof (e as { hostname?: unknown }).hostname === 'string' ? (e as { hostname: string }).hostname : host;
  const byHost = hostOnly !== undefined ? storeAt(cfg, hostOnly, undefined) : undefined;
  if (byHost !== undefined) return `${byHost} ${what}`;
  return `${hostOnly ?? '?'}${port !== undefined ? `:${port}` : ''} ${what}`;
}

/** What to print for a failure: the cause named when we can, the message otherwise; the stack on request. */
export function describeFailure(err: unknown, opts: { stacks: boolean; cfg?: Config; role?: string }): string {
  const message = err instanceof Error ? err.message : String(err);
  const named = explain(err, opts.cfg);
  const line = named === undefined ? message : `${opts.role !== undefined ? `${opts.role}: ` : ''}${named}`;
  if (!opts.stacks) return line;
  return err instanceof Error && err.stack !== undefined ? `${line}\n${err.stack}` : line;
}
