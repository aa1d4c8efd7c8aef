/**
 * Several roles in one process, as on one host of a multi-host test: `node --import tsx
 * test/support/host-roles.ts yellow broker` or `… sso player leaderboard duel chat`. Config from
 * NOON_* like `noon start`; each role is composed exactly as `noon start <role>` composes it
 * (its own instance, sockets and Yellow registration); the services share one Db and Kv, as under
 * `noon up`. One ready line, {"ready":"host","roles":{"<role>":{…its ready fields}}}; SIGTERM
 * stops every role, newest first, and exits 0.
 */
import { loadConfig } from '../../shared/config';
import { openData } from '../../roles/data';
import type { RunningRole } from '../../roles/host';
import { startServiceRole } from '../../roles/service';
import { INFRA_ROLES } from '../../roles';
import { cliLogger } from '../../cli/logger';
import { stopOnSignals } from '../../cli/lifecycle';
import { startRole } from '../../cli/start';
import { BUILTIN_MODULES } from '../../services';

async function main(roleNames: string[]): Promise<void> {
  const cfg = loadConfig({});
  const logger = cliLogger(cfg);
  const running: RunningRole[] = [];
  const services = roleNames.filter((r) => !(INFRA_ROLES as readonly string[]).includes(r));
  const data = services.length > 0 ? await openData(cfg, logger) : undefined;
  for (const role of roleNames) {
    const mod = BUILTIN_MODULES.find((m) => m.role === role);
    if (data && mod)
      running.push(await startServiceRole(mod, cfg, logger, data, { processMetrics: running.length === 0 }));
    else running.push(await startRole(role, cfg, logger));
  }
  stopOnSignals(async () => {
    for (const r of [...running].reverse()) await r.stop();
    await data?.kv.close();
    await data?.db.close();
  }, logger);
  const roles = Object.fromEntries(running.map((r) => [r.role, r.ready]));
  process.stdout.write(`${JSON.stringify({ ready: 'host', roles })}\n`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`host roles failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
