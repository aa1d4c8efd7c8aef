/**
 * Global flags generated from CONFIG_SPEC: every config key is a `--kebab-case` flag (and its
 * NOON_* environment variable, read by loadConfig). Flags are parsed as strings so that
 * loadConfig alone validates them and names the option in its ConfigError.
 */
import type { Argv } from 'yargs';
import { CONFIG_SPEC, ConfigError, flagName, loadConfig, type Config, type ConfigKey } from '../shared/config';

/** Exit code of a bad configuration (usage error). */
export const EXIT_CONFIG = 2;

export const CONFIG_GROUP = 'Config (flag or environment variable):';

/** Adds one global string option per CONFIG_SPEC key. */
export function withConfigFlags<T>(y: Argv<T>): Argv<T> {
  let out = y;
  for (const [key, spec] of Object.entries(CONFIG_SPEC)) {
    const def =
      spec.default === undefined
        ? ''
        : ` [default: ${Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default)}]`;
    out = out.option(flagName(key), {
      type: 'string',
      global: true,
      group: CONFIG_GROUP,
      describe: `${spec.describe} (${spec.env})${def}`,
    });
  }
  return out;
}

/** Picks the config flags out of parsed argv (yargs camel-cases `--max-frame` to `maxFrame`). */
export function overridesOf(argv: Record<string, unknown>): Partial<Record<ConfigKey, unknown>> {
  const out: Partial<Record<ConfigKey, unknown>> = {};
  for (const key of Object.keys(CONFIG_SPEC) as ConfigKey[]) {
    const v = argv[key];
    if (v === undefined) continue;
    // A repeated flag arrives as an array: the last one wins, as for any CLI.
    const last: unknown = Array.isArray(v) ? v[v.length - 1] : v;
    // A yes/no option given bare (`--internal-plaintext`) means yes, as for any CLI switch.
    out[key] = last === '' && CONFIG_SPEC[key].kind === 'bool' ? true : last;
  }
  return out;
}

export function configFrom(argv: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(overridesOf(argv), env);
}

/** The environment that makes a child `noon` process see exactly this config. */
export function envOf(cfg: Config, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const [key, spec] of Object.entries(CONFIG_SPEC)) {
    const v = cfg[key as ConfigKey];
    if (v === undefined) delete env[spec.env];
    else env[spec.env] = Array.isArray(v) ? v.join(',') : String(v);
  }
  return env;
}

/** Prints a ConfigError and exits 2; anything else is rethrown. */
export function exitOnConfigError(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`noon: ${err.message}\n`);
    process.exit(EXIT_CONFIG);
  }
  throw err;
}
