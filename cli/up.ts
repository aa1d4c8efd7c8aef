/**
 * `noon up`: the whole cluster in this one process (roles/cluster.ts) with the project's modules:
 * the built-ins it keeps and its own. SIGINT stops everything in reverse order and exits 0.
 */
import type { Config } from '../shared/config';
import { startCluster, type RunningRole } from '../roles';
import { printJson, stopOnSignals } from './lifecycle';
import { cliLogger } from './logger';
import { loadProject } from './project';

export interface UpSummary {
  mode: 'single' | 'processes';
  yellow: string;
  /** the BrokerList's HTTP URL (its HTTPS one when plaintext is off) */
  brokerlist: string;
  /** the BrokerList's HTTPS URL, with a TLS certificate */
  brokerlistHttps?: string;
  /** tcp and ws are '' when plaintext is off; tls and wss are there with a TLS certificate */
  broker: { tcp: string; ws: string; tls?: string; wss?: string };
  /** the web console's URL, when it runs (an admin token is set) */
  console?: string;
  dataDir?: string;
  pids: number[];
  instances: Array<{ role: string; instanceId: string; pid: number }>;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

export function summaryOf(mode: UpSummary['mode'], cfg: Config, roles: RunningRole[]): UpSummary {
  const find = (role: string): Record<string, unknown> => roles.find((r) => r.role === role)?.ready ?? {};
  const pids = [...new Set(roles.map((r) => Number(r.ready.pid)))];
  return {
    mode,
    yellow: str(find('yellow').router),
    brokerlist: str(find('brokerlist').url),
    ...(find('brokerlist').https !== undefined && { brokerlistHttps: str(find('brokerlist').https) }),
    broker: {
      tcp: str(find('broker').tcp),
      ws: str(find('broker').ws),
      ...(find('broker').tls !== undefined && { tls: str(find('broker').tls) }),
      ...(find('broker').wss !== undefined && { wss: str(find('broker').wss) }),
    },
    ...(find('console').url !== undefined && { console: str(find('console').url) }),
    ...(cfg.pgUrl === undefined ? { dataDir: cfg.dataDir } : {}),
    pids,
    instances: roles.map((r) => ({ role: r.role, instanceId: str(r.ready.instanceId), pid: Number(r.ready.pid) })),
  };
}

/** The human part of `noon up`'s output (the JSON ready line comes first). */
export function describeUp(s: UpSummary): string {
  const roles = [...new Set(s.instances.map((i) => i.role))].join(', ');
  return [
    `noon is up (${s.mode === 'single' ? 'one process' : `${s.pids.length} processes`}): ${roles}`,
    `  BrokerList  ${s.brokerlist}${s.brokerlistHttps && s.brokerlistHttps !== s.brokerlist ? `   ${s.brokerlistHttps}` : ''}`,
    ...(s.broker.tcp ? [`  broker      tcp ${s.broker.tcp}   ws ${s.broker.ws}`] : []),
    ...(s.broker.tls ? [`  broker      tls ${s.broker.tls}   wss ${s.broker.wss ?? ''}`] : []),
    `  Yellow      ${s.yellow}`,
    ...(s.console ? [`  console     ${s.console}   (log in with NOON_ADMIN_TOKEN)`] : []),
    s.dataDir
      ? `  data        ${s.dataDir} (PGlite; set NOON_PG_URL for Postgres)`
      : '  data        Postgres (NOON_PG_URL)',
    `try it:  noon health --url ${s.brokerlist} --yellow ${s.yellow}`,
    `         noon yellow instances --yellow ${s.yellow}   ·   noon top --yellow ${s.yellow}`,
    'Ctrl-C stops everything.',
    '',
  ].join('\n');
}

/**
 * `noon up` on embedded PGlite is a local run: when NOON_PURCHASE_VERIFIER is not set, its player
 * service uses the development verifier (dev:<productId>:<unique> receipts, not verified), so the
 * demo, `noon loadtest` and the SDK examples can buy currency. Nowhere else: with NOON_PG_URL,
 * under --processes and in `noon start player` purchases stay off until a verifier is chosen.
 */
export function upConfig(cfg: Config): { cfg: Config; devPurchases: boolean } {
  const devPurchases = cfg.pgUrl === undefined && cfg.purchaseVerifier.length === 0;
  return { cfg: devPurchases ? { ...cfg, purchaseVerifier: ['development'] } : cfg, devPurchases };
}

export async function runUp(given: Config): Promise<void> {
  const { cfg, devPurchases } = upConfig(given);
  if (devPurchases)
    process.stderr.write(
      'noon up: WARNING purchases use the DEVELOPMENT verifier (PGlite, NOON_PURCHASE_VERIFIER unset): ' +
        'dev:<productId>:<unique> receipts are credited unverified; NOON_PURCHASE_VERIFIER=none turns purchases off\n',
    );
  // Roles add their own role/instance bindings; the cluster's own lines say role "up".
  const logger = cliLogger(cfg);
  const { modules } = loadProject(cfg);
  const cluster = await startCluster(cfg, modules, logger, (line) => process.stderr.write(`noon up: ${line}\n`));
  const { roles, stop } = cluster;
  const upLog = logger.child({ role: 'up', instance: `up-${process.pid}` });
  // Ready only once a signal stops cleanly: whoever reads the line may signal at once.
  stopOnSignals(stop, upLog);
  const summary = summaryOf('single', cfg, roles);
  printJson({ ready: 'up', ...summary });
  process.stdout.write(describeUp(summary));
}
