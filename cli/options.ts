/**
 * Flags generated from CONFIG_SPEC: every config key is a `--kebab-case` flag (and its NOON_*
 * environment variable, read by loadConfig). Flags are parsed as strings so that loadConfig
 * alone validates them and names the option in its ConfigError.
 */
import type { Argv } from 'yargs';
import { CONFIG_SPEC, ConfigError, flagName, loadConfig, type Config, type ConfigKey } from '../shared/config';
import type { OptionSpec } from '../shared/config-spec';

/** Exit code of a bad configuration (usage error). */
export const EXIT_CONFIG = 2;

export const CONFIG_GROUP = 'Server config (flag or NOON_* environment variable):';
export const CLUSTER_GROUP = 'Cluster (flag or NOON_* environment variable):';

/** What an operator command talking to Yellow reads from the config. */
export const OPERATOR_KEYS = [
  'yellow',
  'dataDir',
  'internalKeys',
  'internalKey',
  'internalKeyring',
  'internalPlaintext',
  'logLevel',
  'logFormat',
] as const satisfies readonly ConfigKey[];

function kindText(spec: OptionSpec): string {
  if (spec.kind === 'int') {
    const range = spec.min !== undefined && spec.max !== undefined ? ` ${spec.min}..${spec.max}` : '';
    return ` [integer${range}]`;
  }
  if (spec.kind === 'bool') return ' [yes/no]';
  return '';
}

/**
 * Adds one string option per CONFIG_SPEC key: shown in --help under `group` when `shown` has it
 * (every key with 'all'), hidden otherwise. A hidden one is still accepted (and its NOON_*
 * variable read), so a script passing the same flags to every command keeps working; help shows
 * what the command uses. Types are given in words: loadConfig parses and names a bad value.
 */
export function withConfigFlags<T>(
  y: Argv<T>,
  shown: readonly ConfigKey[] | 'all' = 'all',
  group = shown === 'all' ? CONFIG_GROUP : CLUSTER_GROUP,
): Argv<T> {
  let out = y;
  for (const [key, spec] of Object.entries(CONFIG_SPEC) as [ConfigKey, OptionSpec][]) {
    const def =
      spec.default === undefined || (Array.isArray(spec.default) && spec.default.length === 0)
        ? ''
        : ` [default: ${Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default)}]`;
    const visible = shown === 'all' || shown.includes(key);
    out = out.option(flagName(key), {
      // no yargs type for numbers (yargs would make "abc" NaN before loadConfig could name it) nor
      // yes/no options (a bare flag is yes, a value is read by loadConfig)
      ...(spec.kind === 'int' ? { requiresArg: true } : spec.kind === 'bool' ? {} : { type: 'string' as const }),
      ...(visible ? { group } : { hidden: true }),
      describe: `${spec.describe} (${spec.env})${kindText(spec)}${def}`,
    });
  }
  return out;
}

/** A bad command-line value: printed without a stack, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * A yargs `coerce` for a whole-number option: the value in [min, max], or a UsageError naming
 * the flag, what it expects and what it got. Declare the option without `type: 'number'` (yargs
 * would turn "abc" into NaN first).
 */
export function intOption(flag: string, range: { min: number; max?: number; unit?: string }) {
  return (raw: unknown): number | undefined => {
    if (raw === undefined) return undefined;
    const last: unknown = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    const n = typeof last === 'number' ? last : Number(String(last).trim());
    const unit = range.unit ? ` ${range.unit}` : '';
    const expects =
      range.max === undefined
        ? `a whole number${unit} of at least ${range.min}`
        : `a whole number${unit} from ${range.min} to ${range.max}`;
    if (
      String(last).trim() === '' ||
      !Number.isInteger(n) ||
      n < range.min ||
      (range.max !== undefined && n > range.max)
    )
      throw new UsageError(`--${flag} expects ${expects}, got ${JSON.stringify(String(last))}`);
    return n;
  };
}

/** A yargs `coerce` for a fraction in (0, 1], or a UsageError naming the flag and what it got. */
export function fractionOption(flag: string) {
  return (raw: unknown): number | undefined => {
    if (raw === undefined) return undefined;
    const last: unknown = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    const n = Number(String(last).trim());
    if (String(last).trim() === '' || !(n > 0 && n <= 1))
      throw new UsageError(`--${flag} expects a fraction above 0 and at most 1, got ${JSON.stringify(String(last))}`);
    return n;
  };
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

/** Prints a ConfigError (or UsageError) and exits 2; anything else is rethrown. */
export function exitOnConfigError(err: unknown): never {
  if (err instanceof ConfigError || err instanceof UsageError) {
    process.stderr.write(`noon: ${err.message}\n`);
    process.exit(EXIT_CONFIG);
  }
  throw err;
}
