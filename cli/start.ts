/**
 * `noon start <role>`: one role per process. Prints `{"ready":"<role>", ...endpoints}` on stdout
 * once it serves; SIGTERM/SIGINT stop it cleanly (exit 0). Under `noon up --processes` the child
 * also stops when its stdin closes, so a supervisor that dies (even by SIGKILL) leaves no orphans.
 */
import { mkdirSync } from 'node:fs';
import { ConfigError, type Config } from '../shared/config';
import { INFRA_KEY_ROLES } from '../shared/curve';
import { defaultKeyDir, hasKeyOptions } from '../shared/internal-keys';
import { ensureKeys } from '../shared/keyring';
import type { Logger } from '../shared/log';
import { STOP_DEADLINE_MS, printJson, stopOnSignals } from './lifecycle';
import { armStallSignal } from './debug-stall';
import { cliLogger } from './logger';
import { loadProject, rolesOf } from './project';
import {
  startBrokerListRole,
  startBrokerRole,
  startConsoleRole,
  startServiceRole,
  startWorkerRole,
  startYellowRole,
  WORKER_ROLE,
  type RunningRole,
} from '../roles';

export async function startRole(role: string, cfg: Config, logger: Logger): Promise<RunningRole> {
  switch (role) {
    case 'yellow':
      return startYellowRole(cfg, logger);
    case 'brokerlist':
      return startBrokerListRole(cfg, logger);
    case 'broker':
      return startBrokerRole(cfg, logger);
    case 'console':
      return startConsoleRole(cfg, logger);
  }
  const project = loadProject(cfg);
  if (role === WORKER_ROLE) {
    if (cfg.pgUrl === undefined) mkdirSync(cfg.dataDir, { recursive: true });
    return startWorkerRole(project.modules, cfg, logger);
  }
  const mod = project.modules.find((m) => m.role === role);
  if (!mod) {
    const where = project.file ? ` in ${project.file}` : '';
    throw new ConfigError(
      '<role>',
      `unknown role ${JSON.stringify(role)}${where}; one of ${rolesOf(project).join(', ')}`,
    );
  }
  if (cfg.pgUrl === undefined) mkdirSync(cfg.dataDir, { recursive: true });
  return startServiceRole(mod, cfg, logger);
}

/**
 * A role on its own process authenticates and encrypts the internal plane: with no key option,
 * with the keys of `<data dir>/keys` (made there on first use); plaintext only when asked, loudly.
 */
export function withInternalKeys(role: string, cfg: Config, logger: Logger): Config {
  if (cfg.internalPlaintext) {
    logger.warn(
      { role },
      'NOON_INTERNAL_PLAINTEXT: the internal plane is NOT authenticated or encrypted; anyone who reaches these ports can register in Yellow and call every service as whichever user it claims',
    );
    return cfg;
  }
  if (hasKeyOptions(cfg)) return cfg;
  const dir = defaultKeyDir(cfg);
  ensureKeys(dir, [...new Set([...INFRA_KEY_ROLES, role])]);
  return { ...cfg, internalKeys: dir };
}

export async function runStart(role: string, given: Config, opts: { supervised?: boolean } = {}): Promise<void> {
  const logger = cliLogger(given);
  const cfg = withInternalKeys(role, given, logger);
  const running = await startRole(role, cfg, logger);
  const stop = (): Promise<void> => running.stop();
  // a draining broker may take its whole grace period before it closes
  const deadlineMs = Math.max(STOP_DEADLINE_MS, cfg.drainGraceMs + 5000);
  stopOnSignals(
    stop,
    logger.child({ role, instance: String(running.ready.instanceId ?? `${role}-${process.pid}`) }),
    deadlineMs,
  );
  armStallSignal(cfg.debugStallMs, logger);
  // Ready only once a SIGTERM stops cleanly: whoever reads the line may signal at once.
  printJson({ ready: role, ...running.ready });
  if (opts.supervised) {
    // The supervisor holds our stdin open; EOF means it is gone.
    process.stdin.on('data', () => undefined);
    process.stdin.once('end', () => process.kill(process.pid, 'SIGTERM'));
  }
}
