/**
 * One typed config. Every option has an environment variable and a CLI flag (the flag is the key
 * in kebab case); a bad value fails at start with a message that names the option.
 */
import { randomBytes } from 'node:crypto';
import type { CurveKeys } from './curve';

type Kind = 'string' | 'int' | 'list' | 'bool';
interface OptionSpec {
  env: string;
  kind: Kind;
  describe: string;
  default: string | number | boolean | string[] | undefined;
  min?: number;
  max?: number;
}

export const CONFIG_SPEC = {
  yellow: {
    env: 'NOON_YELLOW',
    kind: 'list',
    default: ['tcp://127.0.0.1:7700'],
    describe: 'Yellow ROUTER endpoints (comma-separated)',
  },
  host: { env: 'NOON_HOST', kind: 'string', default: '127.0.0.1', describe: 'host this process advertises and binds' },
  pgUrl: {
    env: 'NOON_PG_URL',
    kind: 'string',
    default: undefined,
    describe: 'Postgres URL; unset = embedded PGlite in the data dir',
  },
  redis: {
    env: 'NOON_REDIS',
    kind: 'list',
    default: [],
    describe: 'Redis shard URLs (comma-separated); empty = in-process store',
  },
  secret: {
    env: 'NOON_SECRET',
    kind: 'string',
    default: undefined,
    describe: 'secret for internal signatures (random per process if unset)',
  },
  dataDir: {
    env: 'NOON_DATA_DIR',
    kind: 'string',
    default: '.noon',
    describe: 'data directory (PGlite files, pid files)',
  },
  project: {
    env: 'NOON_PROJECT',
    kind: 'string',
    default: '.',
    describe: "the studio project's folder (its noon.config.json says which services run)",
  },
  logLevel: { env: 'NOON_LOG_LEVEL', kind: 'string', default: 'info', describe: 'pino log level' },
  heartbeatMs: {
    env: 'NOON_HEARTBEAT_MS',
    kind: 'int',
    default: 1000,
    min: 20,
    max: 60_000,
    describe: 'heartbeat interval to Yellow; 3 missed = down',
  },
  yellowPort: {
    env: 'NOON_YELLOW_PORT',
    kind: 'int',
    default: 7700,
    min: 0,
    max: 65535,
    describe: 'Yellow ROUTER port (PUB binds an ephemeral port)',
  },
  brokerPort: {
    env: 'NOON_BROKER_PORT',
    kind: 'int',
    default: 7800,
    min: 0,
    max: 65535,
    describe: 'broker framed-Thrift TCP port',
  },
  brokerWsPort: {
    env: 'NOON_BROKER_WS_PORT',
    kind: 'int',
    default: 7801,
    min: 0,
    max: 65535,
    describe: 'broker WebSocket port',
  },
  brokerlistPort: {
    env: 'NOON_BROKERLIST_PORT',
    kind: 'int',
    default: 7780,
    min: 0,
    max: 65535,
    describe: 'BrokerList HTTP port',
  },
  corsOrigins: {
    env: 'NOON_CORS_ORIGINS',
    kind: 'list',
    default: [],
    describe:
      'origins (scheme://host[:port], or *) whose web pages may read the BrokerList (CORS), comma-separated; empty = none',
  },
  tlsCert: {
    env: 'NOON_TLS_CERT',
    kind: 'string',
    default: undefined,
    describe:
      'PEM certificate file (server certificate, then intermediates) for the TLS listeners: broker TLS and wss, BrokerList HTTPS; with --tls-key; re-read on SIGHUP',
  },
  tlsKey: {
    env: 'NOON_TLS_KEY',
    kind: 'string',
    default: undefined,
    describe: 'PEM private key file of --tls-cert (unencrypted); re-read on SIGHUP',
  },
  plaintext: {
    env: 'NOON_PLAINTEXT',
    kind: 'bool',
    default: true,
    describe: 'also listen without TLS (broker TCP and ws, BrokerList HTTP); false = the TLS listeners only',
  },
  brokerTlsPort: {
    env: 'NOON_BROKER_TLS_PORT',
    kind: 'int',
    default: 7810,
    min: 0,
    max: 65535,
    describe: 'broker framed-Thrift-over-TLS port (with --tls-cert)',
  },
  brokerWssPort: {
    env: 'NOON_BROKER_WSS_PORT',
    kind: 'int',
    default: 7811,
    min: 0,
    max: 65535,
    describe: 'broker WebSocket-over-TLS (wss) port (with --tls-cert)',
  },
  brokerlistHttpsPort: {
    env: 'NOON_BROKERLIST_HTTPS_PORT',
    kind: 'int',
    default: 7781,
    min: 0,
    max: 65535,
    describe: 'BrokerList HTTPS port (with --tls-cert)',
  },
  metricsPort: {
    env: 'NOON_METRICS_PORT',
    kind: 'int',
    default: 0,
    min: 0,
    max: 65535,
    describe: 'Prometheus /metrics port (0 = ephemeral, registered in Yellow)',
  },
  requestTimeoutMs: {
    env: 'NOON_REQUEST_TIMEOUT_MS',
    kind: 'int',
    default: 5000,
    min: 10,
    max: 600_000,
    describe: 'deadline of a call through the broker',
  },
  maxFrame: {
    env: 'NOON_MAX_FRAME',
    kind: 'int',
    default: 16384,
    min: 64,
    max: 65536,
    describe: 'largest client frame / WS message in bytes',
  },
  maxString: {
    env: 'NOON_MAX_STRING',
    kind: 'int',
    default: 8192,
    min: 16,
    max: 65536,
    describe: 'largest decoded string/binary in bytes',
  },
  maxContainer: {
    env: 'NOON_MAX_CONTAINER',
    kind: 'int',
    default: 1024,
    min: 1,
    max: 1_000_000,
    describe: 'most elements in a decoded list/set/map',
  },
  maxDepth: {
    env: 'NOON_MAX_DEPTH',
    kind: 'int',
    default: 16,
    min: 2,
    max: 64,
    describe: 'deepest struct nesting when decoding',
  },
  maxMethodName: {
    env: 'NOON_MAX_METHOD_NAME',
    kind: 'int',
    default: 64,
    min: 8,
    max: 1024,
    describe: 'longest Service:method name',
  },
  maxConnections: {
    env: 'NOON_MAX_CONNECTIONS',
    kind: 'int',
    default: 20_000,
    min: 1,
    max: 1_000_000,
    describe: 'connections per broker',
  },
  maxConnectionsPerIp: {
    env: 'NOON_MAX_CONNECTIONS_PER_IP',
    kind: 'int',
    default: 5_000,
    min: 1,
    max: 1_000_000,
    describe: 'connections per client address',
  },
  handshakeTimeoutMs: {
    env: 'NOON_HANDSHAKE_TIMEOUT_MS',
    kind: 'int',
    default: 5000,
    min: 10,
    max: 600_000,
    describe: 'a new connection must send its first call within this',
  },
  loginTimeoutMs: {
    env: 'NOON_LOGIN_TIMEOUT_MS',
    kind: 'int',
    default: 30_000,
    min: 10,
    max: 600_000,
    describe: 'a connection must log in within this',
  },
  idleTimeoutMs: {
    env: 'NOON_IDLE_TIMEOUT_MS',
    kind: 'int',
    default: 45_000,
    min: 10,
    max: 3_600_000,
    describe: 'close a connection silent for this long',
  },
  callsPerSecond: {
    env: 'NOON_CALLS_PER_SECOND',
    kind: 'int',
    default: 100,
    min: 1,
    max: 1_000_000,
    describe: 'token-bucket rate per connection (burst = 2x)',
  },
  maxInFlight: {
    env: 'NOON_MAX_IN_FLIGHT',
    kind: 'int',
    default: 64,
    min: 1,
    max: 100_000,
    describe: 'calls in flight per connection',
  },
  outboundQueue: {
    env: 'NOON_OUTBOUND_QUEUE',
    kind: 'int',
    default: 256,
    min: 1,
    max: 100_000,
    describe: 'messages queued to one slow client before it is cut off',
  },
  outboundGraceMs: {
    env: 'NOON_OUTBOUND_GRACE_MS',
    kind: 'int',
    default: 2000,
    min: 1,
    max: 600_000,
    describe: 'how long a client may stay over its outbound limits before it is cut off',
  },
  outboundBytes: {
    env: 'NOON_OUTBOUND_BYTES',
    kind: 'int',
    default: 1_048_576,
    min: 1024,
    max: 1 << 30,
    describe: 'bytes queued to one slow client before it is cut off',
  },
  scryptN: {
    env: 'NOON_SCRYPT_N',
    kind: 'int',
    default: 131072,
    min: 1024,
    max: 1048576,
    describe: 'scrypt cost N for passwords (a power of two; 2^17 needs ~128 MiB per hash)',
  },
  sessionTtlMs: {
    env: 'NOON_SESSION_TTL_MS',
    kind: 'int',
    default: 86_400_000,
    min: 1000,
    max: 365 * 86_400_000,
    describe: 'session lifetime',
  },
  // Logins (broker per-address limit, sso slow-down) and error logs (every service).
  loginAttemptsPerIp: {
    env: 'NOON_LOGIN_ATTEMPTS_PER_IP',
    kind: 'int',
    default: 100,
    min: 1,
    max: 1_000_000,
    describe:
      'login calls (--login-methods) one client address may make per --login-attempts-window-ms on one broker, across connections; more are answered RATE_LIMITED',
  },
  loginAttemptsWindowMs: {
    env: 'NOON_LOGIN_ATTEMPTS_WINDOW_MS',
    kind: 'int',
    default: 60_000,
    min: 1000,
    max: 86_400_000,
    describe: 'the window of --login-attempts-per-ip (a token bucket refilled evenly over it)',
  },
  loginMethods: {
    env: 'NOON_LOGIN_METHODS',
    kind: 'list',
    default: ['Sso:login', 'Sso:register', 'Sso:loginDevice', 'Sso:upgradeDevice'],
    describe: 'Service:method calls the broker counts against --login-attempts-per-ip (comma-separated)',
  },
  loginDelayMaxMs: {
    env: 'NOON_LOGIN_DELAY_MAX_MS',
    kind: 'int',
    default: 1000,
    min: 0,
    max: 10_000,
    describe:
      'most an sso login attempt is slowed because its account had many failures since its last success (it is never refused for that)',
  },
  errorLogIntervalMs: {
    env: 'NOON_ERROR_LOG_INTERVAL_MS',
    kind: 'int',
    default: 10_000,
    min: 100,
    max: 3_600_000,
    describe: 'a service logs an unexpected handler error once per cause per interval (with its stack), then a count',
  },
  duelTurnMs: {
    env: 'NOON_DUEL_TURN_MS',
    kind: 'int',
    default: 10_000,
    min: 10,
    max: 600_000,
    describe: 'a duel player who does not act within this forfeits',
  },
  // Purchases (services/player/receipts/): which store receipts buyCurrency credits, and for what.
  purchaseVerifier: {
    env: 'NOON_PURCHASE_VERIFIER',
    kind: 'list',
    default: [],
    describe:
      'receipt verifiers of buyCurrency: appstore, googleplay (a stub that refuses), development (NOT verified; local only), comma-separated, or none; empty = none, except noon up on PGlite, which uses development',
  },
  purchaseCatalog: {
    env: 'NOON_PURCHASE_CATALOG',
    kind: 'string',
    default: undefined,
    describe:
      'the product catalog: a JSON file (or inline JSON) {"<productId>": {"currency": "soft"|"hard", "amount": n}}; required by appstore',
  },
  appstoreBundleId: {
    env: 'NOON_APPSTORE_BUNDLE_ID',
    kind: 'string',
    default: undefined,
    describe: "the app's bundle id: App Store transactions for any other app are refused",
  },
  appstoreRootCert: {
    env: 'NOON_APPSTORE_ROOT_CERT',
    kind: 'string',
    default: undefined,
    describe: 'PEM file of the trusted root certificate(s) of App Store transaction chains (Apple Root CA - G3)',
  },
  appstoreSandbox: {
    env: 'NOON_APPSTORE_SANDBOX',
    kind: 'bool',
    default: false,
    describe: 'also accept App Store Sandbox transactions (TestFlight, sandbox testers), not only Production',
  },
  curvePublic: {
    env: 'NOON_CURVE_PUBLIC',
    kind: 'string',
    default: undefined,
    describe: 'cluster CURVE public key (Z85); with --curve-secret, every internal socket uses CURVE',
  },
  curveSecret: {
    env: 'NOON_CURVE_SECRET',
    kind: 'string',
    default: undefined,
    describe: 'cluster CURVE secret key (Z85); keep it out of the repository',
  },
  curveAllow: {
    env: 'NOON_CURVE_ALLOW',
    kind: 'list',
    default: [],
    describe: 'more client public keys (Z85) allowed on internal sockets',
  },
  serviceQueue: {
    env: 'NOON_SERVICE_QUEUE',
    kind: 'int',
    default: 4096,
    min: 1,
    max: 1_000_000,
    describe: 'requests queued per service peer before BUSY',
  },
} satisfies Record<string, OptionSpec>;

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

function validate(cfg: Config): void {
  for (const url of cfg.yellow) {
    if (!/^tcp:\/\/[^:/]+:\d+$/.test(url))
      throw new ConfigError('--yellow / NOON_YELLOW', `endpoint ${JSON.stringify(url)} is not tcp://host:port`);
  }
  for (const url of cfg.redis) {
    if (!/^(redis|rediss|sentinel):\/\//.test(url))
      throw new ConfigError(
        '--redis / NOON_REDIS',
        `shard ${JSON.stringify(url)} is not a redis://, rediss:// or sentinel:// URL`,
      );
  }
  if (cfg.pgUrl !== undefined && !/^postgres(ql)?:\/\//.test(cfg.pgUrl)) {
    throw new ConfigError('--pg-url / NOON_PG_URL', `${JSON.stringify(cfg.pgUrl)} is not a postgres:// URL`);
  }
  if ((cfg.curvePublic === undefined) !== (cfg.curveSecret === undefined)) {
    throw new ConfigError(
      '--curve-public / NOON_CURVE_PUBLIC',
      'CURVE needs both the public and the secret key (or neither)',
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
  for (const [label, key] of [
    ['--curve-public / NOON_CURVE_PUBLIC', cfg.curvePublic],
    ['--curve-secret / NOON_CURVE_SECRET', cfg.curveSecret],
    ...cfg.curveAllow.map((k) => ['--curve-allow / NOON_CURVE_ALLOW', k]),
  ] as [string, string | undefined][]) {
    if (key !== undefined && !/^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/.test(key))
      throw new ConfigError(label, 'a CURVE key is 40 Z85 characters');
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
  if ((cfg.scryptN & (cfg.scryptN - 1)) !== 0)
    throw new ConfigError('--scrypt-n / NOON_SCRYPT_N', `${cfg.scryptN} is not a power of two`);
  if (!/^(trace|debug|info|warn|error|fatal|silent)$/.test(cfg.logLevel)) {
    throw new ConfigError('--log-level / NOON_LOG_LEVEL', `unknown level ${JSON.stringify(cfg.logLevel)}`);
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

/** The cluster's CURVE keys, when configured. */
export function curveOf(cfg: Config): CurveKeys | undefined {
  return cfg.curvePublic !== undefined && cfg.curveSecret !== undefined
    ? { publicKey: cfg.curvePublic, secretKey: cfg.curveSecret, allow: cfg.curveAllow }
    : undefined;
}

/** A per-process secret when none is configured: internal signatures then only hold in-process. */
export function secretOf(cfg: Config): string {
  return cfg.secret ?? randomBytes(32).toString('hex');
}
