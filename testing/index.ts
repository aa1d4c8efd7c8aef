/**
 * `noon/testing`: a whole cluster inside a studio's test process, on ephemeral ports, with its
 * data in a throwaway folder (PGlite) unless a Postgres URL is given. It runs the project's
 * modules (its noon.config.json) or the modules given, so a studio's test talks to its own
 * services through a real BrokerList, broker and ZeroMQ, exactly as a game client would.
 *
 *   const cluster = await startTestCluster({ project: __dirname + '/..' });
 *   const client = await cluster.client();
 *   await client.sso.register('ann', 'a-long-password');
 *   …
 *   await cluster.stop();
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config, type ConfigKey } from '../shared/config';
import { createLogger, silentLogger } from '../shared/log';
import type { AnyServiceModule } from '../rpc/api';
import { projectModules } from '../services/api';
import { startCluster, type RunningCluster } from '../roles';
import { NoonClient, type NoonClientOptions } from '../client';
import { loadProject } from '../cli/project';

export interface TestClusterOptions {
  /** a project folder whose noon.config.json says what runs (default: modules, else the built-ins) */
  project?: string;
  /** modules to run beside the built-ins (instead of a project) */
  modules?: readonly AnyServiceModule[];
  /** with `modules`: built-in role -> false to switch it off */
  builtins?: Readonly<Record<string, boolean>>;
  /** any config option (the same names as the NOON_* options), e.g. { pgUrl, scryptN: 1024 } */
  config?: Partial<Record<ConfigKey, unknown>>;
  /** log lines at this level to stderr (default: none) */
  logLevel?: string;
}

export interface TestCluster {
  brokerListUrl: string;
  broker: { tcp: string; ws: string };
  /** the config the roles run with */
  cfg: Config;
  /** a new SDK client through the BrokerList; closed by stop() */
  client(opts?: NoonClientOptions): Promise<NoonClient>;
  stop(): Promise<void>;
}

/** Cheap password hashing and fast heartbeats: tests, not production, numbers. */
const TEST_DEFAULTS: Partial<Record<ConfigKey, unknown>> = {
  yellowPort: 0,
  brokerPort: 0,
  brokerWsPort: 0,
  brokerlistPort: 0,
  metricsPort: 0,
  heartbeatMs: 200,
  scryptN: 1024,
};

export async function startTestCluster(opts: TestClusterOptions = {}): Promise<TestCluster> {
  const dataDir = mkdtempSync(join(tmpdir(), 'noon-test-'));
  const cfg = loadConfig(
    { ...TEST_DEFAULTS, dataDir, ...(opts.project ? { project: opts.project } : {}), ...opts.config },
    {},
  );
  const logger = opts.logLevel
    ? createLogger({ role: 'test', instanceId: `test-${process.pid}`, level: opts.logLevel })
    : silentLogger();
  const modules = opts.project ? loadProject(cfg).modules : projectModules(opts.modules ?? [], opts.builtins);
  let cluster: RunningCluster;
  try {
    cluster = await startCluster(cfg, modules, logger);
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const ready = (role: string): Record<string, unknown> => cluster.roles.find((r) => r.role === role)?.ready ?? {};
  const brokerListUrl = String(ready('brokerlist').url);
  const clients: NoonClient[] = [];
  return {
    brokerListUrl,
    broker: { tcp: String(ready('broker').tcp), ws: String(ready('broker').ws) },
    cfg: cluster.cfg,
    client: async (clientOpts) => {
      const c = await NoonClient.viaBrokerList(brokerListUrl, clientOpts);
      clients.push(c);
      return c;
    },
    stop: async () => {
      for (const c of clients) c.close();
      await cluster.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
