/**
 * One typed config. Every option has an environment variable and a CLI flag (the flag is the key
 * in kebab case); a bad value fails at start with a message that names the option.
 */
import { isAdvertisableHost, isBindableHost } from './endpoints';
import { CONFIG_SPEC, type OptionSpec } from './config-spec';
import { groupRedisUrls, parseRedisList } from './data/redis-url';
import { parseChannelRules } from './channels/rules';

export { CONFIG_SPEC };

/** How log lines are written: `auto` picks pretty on a terminal and JSON elsewhere. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

type Spec = typeof CONFIG_SPEC;
type ValueOf<S> = S extends { kind: 'int' }
  ? number
  : S extends { kind: 'list' }
    ? string[]
    : S extends { kind: 'bool' }
      ? boolean
      : S extends { default: string }
        ? string
        : string | undefined;
export type Config = { [K in keyof Spec]: ValueOf<Spec[K]> };
export type ConfigKey = keyof Config;

export class ConfigError extends Error {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`config option ${option}: ${message}`);
    this.name = 'ConfigError';
  }
}

export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function parseValue(key: string, spec: OptionSpec, raw: unknown): unknown {
  const label = `--${flagName(key)} / ${spec.env}`;
  switch (spec.kind) {
    case 'int': {
      const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
      if (!Number.isInteger(n)) throw new ConfigError(label, `expected an integer, got ${JSON.stringify(raw)}`);
      if (spec.min !== undefined && n < spec.min) throw new ConfigError(label, `${n} is below the minimum ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) throw new ConfigError(label, `${n} is above the maximum ${spec.max}`);
      return n;
    }
    case 'list': {
      const list = Array.isArray(raw) ? raw.map(String) : String(raw).split(',');
      return list.map((s) => s.trim()).filter((s) => s.length > 0);
    }
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (/^(1|true|yes|on)$/i.test(String(raw))) return true;
      if (/^(0|false|no|off)$/i.test(String(raw))) return false;
      throw new ConfigError(label, `expected true/false, got ${JSON.stringify(raw)}`);
    case 'string':
      return String(raw);
  }
}

/** A serialized origin as browsers send it: lower-case scheme and host, an optional port, nothing after. */
const CORS_ORIGIN_RE = /^[a-z][a-z0-9+.-]*:\/\/(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/;

/** An admin token short enough to guess is no credential. */
const MIN_ADMIN_TOKEN = 16;
function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '' && u.search === '' && u.hash === '';
  } catch {
    return false;
  }
}

function validate(cfg: Config): void {
  for (const url of cfg.yellow) {
    if (!/^tcp:\/\/[^:/]+:\d+$/.test(url))
      throw new ConfigError('--yellow / NOON_YELLOW', `endpoint ${JSON.stringify(url)} is not tcp://host:port`);
  }
  if (!isAdvertisableHost(cfg.host))
    throw new ConfigError('--host / NOON_HOST', `${JSON.stringify(cfg.host)} is not a host name or address`);
  if (cfg.jobMaxBackoffMs < cfg.jobBackoffMs)
    throw new ConfigError(
      '--job-max-backoff-ms / NOON_JOB_MAX_BACKOFF_MS',
      `${cfg.jobMaxBackoffMs} is below --job-backoff-ms (${cfg.jobBackoffMs}): the longest wait cannot be shorter than the first`,
    );
  if (cfg.bindHost !== undefined && !isBindableHost(cfg.bindHost))
    throw new ConfigError(
      '--bind-host / NOON_BIND_HOST',
      `${JSON.stringify(cfg.bindHost)} is not an IPv4 address (e.g. 0.0.0.0 or 10.0.0.5): listeners bind an address, not a name`,
    );
  // The list is split on commas, as are a sentinel:// or redis-cluster:// URL's hosts: rejoin them.
  cfg.redis = groupRedisUrls(cfg.redis);
  try {
    parseRedisList(cfg.redis);
  } catch (err) {
    throw new ConfigError('--redis / NOON_REDIS', (err as Error).message);
  }
  if (cfg.pgUrl !== undefined && !/^postgres(ql)?:\/\//.test(cfg.pgUrl)) {
    throw new ConfigError('--pg-url / NOON_PG_URL', `${JSON.stringify(cfg.pgUrl)} is not a postgres:// URL`);
  }
  if (
    cfg.internalPlaintext &&
    (cfg.internalKeys !== undefined || cfg.internalKey !== undefined || cfg.internalKeyring !== undefined)
  ) {
    throw new ConfigError(
      '--internal-plaintext / NOON_INTERNAL_PLAINTEXT',
      'plaintext contradicts the key options (--internal-keys, --internal-key, --internal-keyring) also set',
    );
  }
  if ((cfg.tlsCert === undefined) !== (cfg.tlsKey === undefined)) {
    throw new ConfigError(
      cfg.tlsCert === undefined ? '--tls-cert / NOON_TLS_CERT' : '--tls-key / NOON_TLS_KEY',
      'TLS needs both the certificate (--tls-cert) and the private key (--tls-key), or neither',
    );
  }
  if (!cfg.plaintext && cfg.tlsCert === undefined) {
    throw new ConfigError(
      '--plaintext / NOON_PLAINTEXT',
      'false turns off every plaintext listener, which leaves none without --tls-cert and --tls-key',
    );
  }
  for (const origin of cfg.corsOrigins) {
    if (origin !== '*' && !CORS_ORIGIN_RE.test(origin))
      throw new ConfigError(
        '--cors-origins / NOON_CORS_ORIGINS',
        `${JSON.stringify(origin)} is not an origin (lower-case scheme://host[:port], no path or trailing slash) or *`,
      );
  }
  for (const m of cfg.loginMethods)
    if (!/^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$/.test(m))
      throw new ConfigError('--login-methods / NOON_LOGIN_METHODS', `${JSON.stringify(m)} is not Service:method`);
  try {
    parseChannelRules(cfg.channelRules);
  } catch (err) {
    throw new ConfigError('--channel-rules / NOON_CHANNEL_RULES', (err as Error).message);
  }
  if ((cfg.scryptN & (cfg.scryptN - 1)) !== 0)
    throw new ConfigError('--scrypt-n / NOON_SCRYPT_N', `${cfg.scryptN} is not a power of two`);
  if (cfg.adminToken !== undefined && cfg.adminToken.length < MIN_ADMIN_TOKEN)
    throw new ConfigError(
      '--admin-token / NOON_ADMIN_TOKEN',
      `is ${cfg.adminToken.length} characters long; an admin token needs at least ${MIN_ADMIN_TOKEN} (e.g. openssl rand -hex 24)`,
    );
  if (cfg.otlpEndpoint !== undefined && !isHttpUrl(cfg.otlpEndpoint)) {
    throw new ConfigError(
      '--otlp-endpoint / NOON_OTLP_ENDPOINT',
      `${JSON.stringify(cfg.otlpEndpoint)} is not an http:// or https:// URL (an OTLP/HTTP collector, e.g. http://127.0.0.1:4318)`,
    );
  }
  if (!/^(trace|debug|info|warn|error|fatal|silent)$/.test(cfg.logLevel)) {
    throw new ConfigError('--log-level / NOON_LOG_LEVEL', `unknown level ${JSON.stringify(cfg.logLevel)}`);
  }
  if (!(LOG_FORMATS as readonly string[]).includes(cfg.logFormat)) {
    throw new ConfigError(
      '--log-format / NOON_LOG_FORMAT',
      `${JSON.stringify(cfg.logFormat)} is not one of ${LOG_FORMATS.join(', ')}`,
    );
  }
}

/**
 * Builds the config from defaults < environment < explicit overrides (CLI flags).
 * Throws ConfigError naming the option on any bad value.
 */
export function loadConfig(
  overrides: Partial<Record<ConfigKey, unknown>> = {},
  env: NodeJS.ProcessEnv = process.env,
): Config {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(CONFIG_SPEC) as [string, OptionSpec][]) {
    const override = overrides[key as ConfigKey];
    const raw =
      override !== undefined
        ? override
        : env[spec.env] !== undefined && env[spec.env] !== ''
          ? env[spec.env]
          : spec.default;
    out[key] = raw === undefined ? undefined : parseValue(key, spec, raw);
  }
  const cfg = out as Config;
  validate(cfg);
  return cfg;
}
