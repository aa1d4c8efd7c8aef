/**
 * Shard URLs: `redis://[user:pass@]host:port[/db]`, `rediss://…` (TLS) and
 * `sentinel://[user:pass@]host1:port,host2:port/masterName` (a Sentinel-managed master; the
 * credentials are the master's). The shard id, used as the hash-ring node name and in logs, is
 * the URL without credentials, so placement does not change when a password rotates.
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
  | { kind: 'sentinel'; id: string; sentinels: HostPort[]; name: string; username?: string; password?: string };

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

function credentials(userinfo: string | undefined): { username?: string; password?: string } {
  if (userinfo === undefined || userinfo === '') return {};
  const i = userinfo.indexOf(':');
  const user = decodeURIComponent(i < 0 ? userinfo : userinfo.slice(0, i));
  const pass = i < 0 ? undefined : decodeURIComponent(userinfo.slice(i + 1));
  return { username: user === '' ? undefined : user, password: pass };
}

export function parseShardUrl(url: string): ShardTarget {
  const m = /^(redis|rediss|sentinel):\/\/(?:([^@/]*)@)?([^/?#]+)(?:\/([^?#]*))?$/.exec(url.trim());
  if (m === null) throw bad(url, 'expected redis://host:port[/db] or sentinel://host:port,host:port/master');
  const [, scheme, userinfo, hosts, path] = m;
  const creds = credentials(userinfo);
  if (scheme === 'sentinel') {
    const sentinels = hosts!.split(',').map((h) => hostPort(url, h.trim(), 26379));
    if (path === undefined || !/^[\w.-]+$/.test(path)) throw bad(url, 'missing /masterName');
    const id = `sentinel://${sentinels.map((s) => `${s.host}:${s.port}`).join(',')}/${path}`;
    return { kind: 'sentinel', id, sentinels, name: path, ...creds };
  }
  if (hosts!.includes(',')) throw bad(url, 'several hosts need sentinel://');
  const hp = hostPort(url, hosts!, 6379);
  const db = path === undefined || path === '' ? 0 : Number(path);
  if (!Number.isInteger(db) || db < 0) throw bad(url, `bad db number ${JSON.stringify(path)}`);
  const id = `${scheme}://${hp.host}:${hp.port}/${db}`;
  return { kind: 'redis', id, host: hp.host, port: hp.port, db, tls: scheme === 'rediss', ...creds };
}
