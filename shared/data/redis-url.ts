/**
 * Shard URLs: `redis://[user:pass@]host:port[/db]`, `rediss://…` (TLS),
 * `sentinel://[user:pass@]host1:port,host2:port/masterName` (a Sentinel-managed master; the
 * credentials are the master's) and `redis-cluster://[user:pass@]host1:port,host2:port[/0]`,
 * `rediss-cluster://…` (TLS): a Redis Cluster reached through any of its nodes, which places keys
 * itself, so it is the only URL of its list. The shard id, used as the hash-ring node name and in
 * logs, is the URL without credentials, so placement does not change when a password rotates.
 */
import { NoonError } from '../errors';

export interface HostPort {
  host: string;
  port: number;
}

export type ShardTarget =
  | {
      kind: 'redis';
      id: string;
      host: string;
      port: number;
      db: number;
      tls: boolean;
      username?: string;
      password?: string;
    }
  | { kind: 'sentinel'; id: string; sentinels: HostPort[]; name: string; username?: string; password?: string }
  | ClusterTarget;

export interface ClusterTarget {
  kind: 'cluster';
  id: string;
  /** seed nodes: the client asks any of them for the slot map, then talks to every master */
  nodes: HostPort[];
  tls: boolean;
  username?: string;
  password?: string;
}

function bad(url: string, why: string): NoonError {
  return new NoonError(
    'INTERNAL',
    `redis shard URL ${JSON.stringify(url.replace(/\/\/[^@/]*@/, '//***@'))}: ${why}`,
    false,
  );
}

function hostPort(url: string, s: string, defaultPort: number): HostPort {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(s);
  if (m === null || m[1] === undefined) throw bad(url, `bad host:port ${JSON.stringify(s)}`);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(url, `bad port in ${JSON.stringify(s)}`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

type Creds = { username?: string; password?: string };

function credentials(userinfo: string | undefined): Creds {
  if (userinfo === undefined || userinfo === '') return {};
  const i = userinfo.indexOf(':');
  const user = decodeURIComponent(i < 0 ? userinfo : userinfo.slice(0, i));
  const pass = i < 0 ? undefined : decodeURIComponent(userinfo.slice(i + 1));
  return { username: user === '' ? undefined : user, password: pass };
}

const URL_RE = /^(redis|rediss|sentinel|redis-cluster|rediss-cluster):\/\/(?:([^@/]*)@)?([^/?#]+)(?:\/([^?#]*))?$/;

function parseDb(url: string, path: string | undefined): number {
  const db = path === undefined || path === '' ? 0 : Number(path);
  if (!Number.isInteger(db) || db < 0) throw bad(url, `bad db number ${JSON.stringify(path)}`);
  return db;
}

function parseCluster(url: string, tls: boolean, hosts: string, path: string | undefined, creds: Creds): ClusterTarget {
  const nodes = hosts.split(',').map((h) => hostPort(url, h.trim(), 6379));
  const db = parseDb(url, path);
  if (db !== 0)
    throw bad(url, `db ${db} (the /${path} after the hosts): Redis Cluster has database 0 only; drop the /${path}`);
  const seen = new Set<string>();
  for (const n of nodes) {
    const k = `${n.host}:${n.port}`;
    if (seen.has(k)) throw bad(url, `node ${k} is listed twice`);
    seen.add(k);
  }
  const id = `${tls ? 'rediss' : 'redis'}-cluster://${nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  return { kind: 'cluster', id, nodes, tls, ...creds };
}

export function parseShardUrl(url: string): ShardTarget {
  const m = URL_RE.exec(url.trim());
  if (m === null)
    throw bad(
      url,
      'expected redis://host:port[/db], sentinel://host:port,host:port/master or redis-cluster://host:port,host:port',
    );
  const [, scheme, userinfo, hosts, path] = m;
  const creds = credentials(userinfo);
  if (scheme === 'redis-cluster' || scheme === 'rediss-cluster')
    return parseCluster(url, scheme === 'rediss-cluster', hosts!, path, creds);
  if (scheme === 'sentinel') {
    const sentinels = hosts!.split(',').map((h) => hostPort(url, h.trim(), 26379));
    if (path === undefined || !/^[\w.-]+$/.test(path)) throw bad(url, 'missing /masterName');
    const id = `sentinel://${sentinels.map((s) => `${s.host}:${s.port}`).join(',')}/${path}`;
    return { kind: 'sentinel', id, sentinels, name: path, ...creds };
  }
  if (hosts!.includes(',')) throw bad(url, 'several hosts need sentinel:// or redis-cluster://');
  const hp = hostPort(url, hosts!, 6379);
  const db = parseDb(url, path);
  const id = `${scheme}://${hp.host}:${hp.port}/${db}`;
  return { kind: 'redis', id, host: hp.host, port: hp.port, db, tls: scheme === 'rediss', ...creds };
}

const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * Rejoins a comma-split list of URLs (NOON_REDIS is comma-separated, and so are the hosts of a
 * sentinel:// or redis-cluster:// URL): an item without a scheme continues the URL before it.
 */
export function groupRedisUrls(items: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of items) {
    const item = raw.trim();
    if (item === '') continue;
    if (HAS_SCHEME.test(item) || out.length === 0) out.push(item);
    else out[out.length - 1] += `,${item}`;
  }
  return out;
}

/** Parses a whole --redis list: every URL checked, and a cluster URL only on its own. */
export function parseRedisList(items: readonly string[]): ShardTarget[] {
  const targets = groupRedisUrls(items).map(parseShardUrl);
  const cluster = targets.find((t) => t.kind === 'cluster');
  if (cluster !== undefined && targets.length > 1)
    throw new NoonError(
      'INTERNAL',
      `${cluster.id} must be the only Redis URL: a cluster places keys in its own slots, so no other shard can share them (got ${targets.length} URLs)`,
      false,
    );
  return targets;
}
