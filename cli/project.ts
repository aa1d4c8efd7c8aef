/**
 * A studio's project: its `noon.config.json` says which of noon's built-in services run, which
 * of its own service modules run beside them (a module whose role is a built-in's replaces it),
 * and where its IDL and generated code live. No config file means the built-ins alone, so a noon
 * checkout and a bare `noon up` behave as before. A bad file fails at start naming the field.
 *
 *   { "name": "my-game", "idl": "idl", "gen": "src/gen",
 *     "services": ["src/services/greeter.ts"], "builtins": { "duel": false } }
 *
 * A module file exports a ServiceModule as `default` or `module`. A `.ts` file is loaded through
 * tsx (development); production points at compiled `.js` and needs no transpiler.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { AnyServiceModule } from '../rpc/api';
import type { Config } from '../shared/config';
import { ConfigError } from '../shared/config';
import { projectModules } from '../services/api';
import { BUILTIN_ROLES } from '../services/index';

export const PROJECT_FILE = 'noon.config.json';

export interface ProjectConfig {
  name: string;
  /** folder of the project's .thrift files */
  idl: string;
  /** folder `noon gen` writes TypeScript into */
  gen: string;
  /** module files, relative to the project folder */
  services: string[];
  /** built-in role -> on/off; every built-in is on unless set false */
  builtins: Record<string, boolean>;
}

export interface Project {
  /** absolute folder */
  dir: string;
  /** the config file, undefined when the folder has none */
  file: string | undefined;
  config: ProjectConfig;
  /** what runs, in start order: the kept built-ins, then the project's own */
  modules: AnyServiceModule[];
}

const DEFAULTS: ProjectConfig = { name: 'noon', idl: 'idl', gen: 'src/gen', services: [], builtins: {} };

function fail(file: string, field: string, problem: string): never {
  throw new ConfigError(`${file}: ${field}`, problem);
}

/** Checks the parsed file field by field; unknown fields are refused (a typo must not be ignored). */
export function parseProjectConfig(raw: unknown, file = PROJECT_FILE): ProjectConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(file, '(top)', 'must be a JSON object');
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!(k in DEFAULTS)) fail(file, k, `unknown field; known: ${Object.keys(DEFAULTS).join(', ')}`);
  const str = (k: 'name' | 'idl' | 'gen'): string => {
    const v = o[k] ?? DEFAULTS[k];
    if (typeof v !== 'string' || v === '') fail(file, k, 'must be a non-empty string');
    return v;
  };
  const services = o.services ?? [];
  if (!Array.isArray(services)) fail(file, 'services', 'must be an array of module paths');
  services.forEach((s, i) => {
    if (typeof s !== 'string' || !/\.(ts|js|cjs)$/.test(s))
      fail(file, `services[${i}]`, 'must be a path to a .ts or .js file');
  });
  const builtins = o.builtins ?? {};
  if (typeof builtins !== 'object' || builtins === null || Array.isArray(builtins))
    fail(file, 'builtins', 'must be an object of built-in role -> true/false');
  for (const [role, on] of Object.entries(builtins)) {
    if (!BUILTIN_ROLES.includes(role))
      fail(file, `builtins.${role}`, `not a built-in service; one of ${BUILTIN_ROLES.join(', ')}`);
    if (typeof on !== 'boolean') fail(file, `builtins.${role}`, 'must be true or false');
  }
  return {
    name: str('name'),
    idl: str('idl'),
    gen: str('gen'),
    services: services as string[],
    builtins: builtins as Record<string, boolean>,
  };
}

function isServiceModule(v: unknown): v is AnyServiceModule {
  const m = v as Partial<AnyServiceModule> | undefined;
  return typeof m?.role === 'string' && Array.isArray(m.migrations) && typeof m.build === 'function';
}

/** Loads one module file; `.ts` through tsx, which registers itself once per process. */
function loadModule(dir: string, path: string, field: string, file: string): AnyServiceModule {
  const abs = isAbsolute(path) ? path : resolve(dir, path);
  if (!existsSync(abs)) fail(file, field, `${abs} does not exist`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (abs.endsWith('.ts')) require('tsx/cjs');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const exported = require(abs) as { default?: unknown; module?: unknown };
  const mod = [exported.default, exported.module, exported].find(isServiceModule);
  if (!mod) fail(file, field, `${path} exports no ServiceModule (role, migrations, build) as default or \`module\``);
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(mod.role))
    fail(file, field, `role ${JSON.stringify(mod.role)} must be 1..32 of [a-z0-9-], starting with a letter`);
  if (['yellow', 'brokerlist', 'broker', 'console', 'worker'].includes(mod.role))
    fail(file, field, `role ${JSON.stringify(mod.role)} is one of noon's own roles; name the service otherwise`);
  return mod;
}

/** The project's folder and config, without loading its modules (`noon gen` runs before they can load). */
export function readProject(cfg: Pick<Config, 'project'>): Omit<Project, 'modules'> {
  const dir = resolve(cfg.project);
  const path = join(dir, PROJECT_FILE);
  if (!existsSync(path)) return { dir, file: undefined, config: DEFAULTS };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    fail(path, '(file)', `is not valid JSON: ${(err as Error).message}`);
  }
  return { dir, file: path, config: parseProjectConfig(raw, path) };
}

/** The project in cfg.project (default: the working directory), with the modules it runs. */
export function loadProject(cfg: Pick<Config, 'project'>): Project {
  const project = readProject(cfg);
  const { dir, file, config } = project;
  if (!file) return { ...project, modules: projectModules([]) };
  const own = config.services.map((s, i) => loadModule(dir, s, `services[${i}]`, file));
  const roles = new Set<string>();
  for (const [i, m] of own.entries()) {
    if (roles.has(m.role)) fail(file, `services[${i}]`, `role ${m.role} is served by two modules`);
    roles.add(m.role);
  }
  return { ...project, modules: projectModules(own, config.builtins) };
}

/** Every role `noon start` can run in this project. */
export function rolesOf(project: Project): string[] {
  return ['yellow', 'brokerlist', 'broker', 'console', 'worker', ...project.modules.map((m) => m.role)];
}
