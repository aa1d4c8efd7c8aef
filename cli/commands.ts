/**
 * The yargs command tree. Each handler builds the config from flags and env (a bad value is a
 * ConfigError: printed, exit 2) and calls one function from its own file.
 */
import { join, resolve } from 'node:path';
import yargs, { type Argv } from 'yargs';
import { ConfigError, type Config } from '../shared/config';
import type { Logger } from '../shared/log';
import { brokerListUrl, runBrokers } from './brokers';
import { loadtestCommand } from './commands/loadtest';
import { generate } from './gen';
import { checkIdl, cutRelease, describeIdlCheck } from './idl-check';
import { TRANSPORT_KINDS, type TransportKind } from '../client/brokerlist';
import { checkHealth, describeHealth, readCaFile } from './health';
import { initProject } from './init';
import { defaultKeyRoles, keysGenerate, keysList, keysRetire, keysRotate } from './keys';
import { printJson } from './lifecycle';
import { cliLogger } from './logger';
import { describeMigrations, migrateAll } from './migrate';
import {
  configFrom,
  EXIT_CONFIG,
  exitOnConfigError,
  fractionOption,
  intOption,
  OPERATOR_KEYS,
  UsageError,
  withConfigFlags,
} from './options';
import { describeFailure } from './errors';
import type { ConfigKey } from '../shared/config';
import { runStart } from './start';
import { runProcesses } from './supervisor';
import { runTap } from './tap';
import { runTop } from './top';
import { runUp } from './up';
import { loadProject, readProject } from './project';
import { yellowDrain, yellowInstances, yellowServices, yellowTargets, yellowWatch } from './yellow-ops';

type Args = Record<string, unknown>;

/** Whether a failure prints its stack: only when debug output was asked for. */
let debugOutput = /^(debug|trace)$/.test(process.env.NOON_LOG_LEVEL ?? '');

function cfgOf(argv: Args): Config {
  if (argv.debug === true) debugOutput = true;
  try {
    const cfg = configFrom(argv.debug === true ? { ...argv, logLevel: 'debug' } : argv);
    if (cfg.logLevel === 'debug' || cfg.logLevel === 'trace') debugOutput = true;
    return cfg;
  } catch (err) {
    return exitOnConfigError(err);
  }
}

/** The config options each kind of command reads (the rest stay accepted, hidden from --help). */
const KEYS = {
  operator: OPERATOR_KEYS,
  keys: ['dataDir', 'internalKeys', 'project'],
  project: ['project'],
  data: ['pgUrl', 'redis', 'dataDir', 'project', 'logLevel', 'logFormat'],
  brokerlist: [...OPERATOR_KEYS, 'brokerlistPort', 'host'],
  admin: [...OPERATOR_KEYS, 'adminToken'],
  console: [
    ...OPERATOR_KEYS,
    'adminToken',
    'consolePort',
    'host',
    'bindHost',
    'metricsPort',
    'pgUrl',
    'redis',
    'heartbeatMs',
  ],
} as const satisfies Record<string, readonly ConfigKey[]>;

/** An ops command: config, a stderr logger, and any failure printed as one line with exit 1. */
function op(fn: (cfg: Config, logger: Logger, argv: Args) => Promise<void>): (argv: Args) => Promise<void> {
  return async (argv) => {
    const cfg = cfgOf(argv);
    const logger = cliLogger(
      {
        ...cfg,
        logLevel:
          argv.logLevel === undefined && argv.debug !== true && !process.env.NOON_LOG_LEVEL ? 'warn' : cfg.logLevel,
      },
      'cli',
    );
    try {
      await fn(cfg, logger, argv);
    } catch (err) {
      if (err instanceof UsageError || err instanceof ConfigError) exitOnConfigError(err);
      process.stderr.write(`noon: ${describeFailure(err, { cfg, stacks: debugOutput })}\n`);
      process.exit(1);
    }
  };
}

const idlDirs = {
  idl: { type: 'string', describe: "the IDL folder [default: the project's idl (noon.config.json)]" },
  released: { type: 'string', describe: 'the last released IDL [default: <idl>/released]' },
} as const;

function idlDirsOf(cfg: Config, argv: Args): { idl: string; released: string } {
  const project = readProject(cfg);
  const idl = resolve(typeof argv.idl === 'string' ? argv.idl : resolve(project.dir, project.config.idl));
  return { idl, released: resolve(typeof argv.released === 'string' ? argv.released : join(idl, 'released')) };
}

const json = { json: { type: 'boolean', default: false, describe: 'machine-readable JSON on stdout' } } as const;

const keyDir = {
  dir: { type: 'string', describe: 'key directory (default: --internal-keys, else <data dir>/keys)' },
} as const;

function keyDirOf(c: Config, a: Args): string {
  return typeof a.dir === 'string' ? a.dir : (c.internalKeys ?? join(c.dataDir, 'keys'));
}

function keysCommands(y: Argv): Argv {
  return y
    .command(
      'generate',
      'a keypair per role (secret files mode 0600) and the public keyring; existing keys are kept',
      (b) =>
        withConfigFlags(b, KEYS.keys).options({
          ...json,
          ...keyDir,
          roles: {
            type: 'string',
            describe:
              "comma-separated roles (default: yellow, broker, brokerlist, operator and the project's services)",
          },
        }),
      op(async (c, _l, a) => {
        const roles =
          typeof a.roles === 'string'
            ? a.roles
                .split(',')
                .map((r) => r.trim())
                .filter(Boolean)
            : defaultKeyRoles(loadProject(c).modules.map((m) => m.role));
        keysGenerate(keyDirOf(c, a), roles, a.json === true);
      }),
    )
    .command(
      'rotate <role>',
      'start a rotation: a second key for the role, both accepted until retire',
      (b) =>
        withConfigFlags(b, KEYS.keys)
          .positional('role', { type: 'string', demandOption: true })
          .options({ ...json, ...keyDir }),
      op(async (c, _l, a) => keysRotate(keyDirOf(c, a), String(a.role), a.json === true)),
    )
    .command(
      'retire <role>',
      "end a rotation: only the role's current key stays in the keyring",
      (b) =>
        withConfigFlags(b, KEYS.keys)
          .positional('role', { type: 'string', demandOption: true })
          .options({ ...json, ...keyDir }),
      op(async (c, _l, a) => keysRetire(keyDirOf(c, a), String(a.role), a.json === true)),
    )
    .command(
      'list',
      'the public keyring: role and public key',
      (b) => withConfigFlags(b, KEYS.keys).options({ ...json, ...keyDir }),
      op(async (c, _l, a) => keysList(keyDirOf(c, a), a.json === true)),
    )
    .demandCommand(1);
}

function yellowCommands(y: Argv): Argv {
  return y
    .command(
      'services',
      'services registered in Yellow, one row per role',
      (b) => withConfigFlags(b, KEYS.operator).options(json),
      op((c, l, a) => yellowServices(c, l, a.json === true)),
    )
    .command(
      'instances [service]',
      'live instances (of one role or Thrift service)',
      (b) => withConfigFlags(b, KEYS.operator).options(json).positional('service', { type: 'string' }),
      op((c, l, a) => yellowInstances(c, l, a.service as string | undefined, a.json === true)),
    )
    .command(
      'targets',
      "every registered /metrics as Prometheus file_sd JSON (Yellow's metrics port serves the same at /sd/targets)",
      (b) => withConfigFlags(b, KEYS.operator),
      op((c, l) => yellowTargets(c, l)),
    )
    .command(
      'watch',
      'print Yellow events (up, down, draining) as they come',
      (b) =>
        withConfigFlags(b, KEYS.operator).options({
          ...json,
          load: { type: 'boolean', default: false, describe: 'also print load changes' },
        }),
      op((c, l, a) => yellowWatch(c, l, { json: a.json === true, load: a.load === true })),
    )
    .command(
      'drain <instance>',
      'stop routing new work to an instance (--undo to resume)',
      (b) =>
        withConfigFlags(b, KEYS.operator)
          .options({ ...json, undo: { type: 'boolean', default: false, describe: 'resume routing to it' } })
          .positional('instance', { type: 'string', demandOption: true }),
      op((c, l, a) => yellowDrain(c, l, String(a.instance), a.undo === true, a.json === true)),
    )
    .demandCommand(1, 'name a yellow command');
}

export function buildCli(argv: string[]): Argv {
  return yargs(argv)
    .scriptName('noon')
    .usage(
      "$0 <command> [options]\n\nEvery config option is a flag and a NOON_* environment variable; a command's --help lists the ones it uses.",
    )
    .option('debug', {
      type: 'boolean',
      global: true,
      describe: 'debug log lines, and the stack of an error (same as --log-level debug)',
    })
    .command(
      'start <role>',
      "run one role: yellow, brokerlist, broker, console, or a service of the project (sso, player, duel, chat, leaderboard, and the project's own)",
      (b) =>
        withConfigFlags(b)
          .positional('role', { type: 'string', demandOption: true })
          .option('supervised', { type: 'boolean', hidden: true, default: false }),
      async (a) => {
        const cfg = cfgOf(a);
        const role = String(a.role);
        await runStart(role, cfg, { supervised: a.supervised === true }).catch((err) => fatal(err, cfg, role));
      },
    )
    .command(
      'up',
      'run a whole cluster on this machine (one process; --processes for one per role)',
      (b) =>
        withConfigFlags(b).option('processes', {
          type: 'boolean',
          default: false,
          describe: 'one child process per role, restarted when it dies (needs NOON_PG_URL)',
        }),
      async (a) => {
        const cfg = cfgOf(a);
        await (a.processes ? runProcesses(cfg) : runUp(cfg)).catch((err) => fatal(err, cfg));
      },
    )
    .command(
      'console',
      'run the web console (docs/console.md): every instance, live charts, drain, session lookup, the tap; needs NOON_ADMIN_TOKEN (same as noon start console)',
      (b) => withConfigFlags(b, KEYS.console),
      async (a) => {
        const cfg = cfgOf(a);
        await runStart('console', cfg).catch((err) => fatal(err, cfg, 'console'));
      },
    )
    .command(
      'init <dir>',
      'write a new studio project: its IDL, a service, a test, a load-test scenario',
      (b) =>
        withConfigFlags(b, [])
          .positional('dir', { type: 'string', demandOption: true })
          .option('noon', {
            type: 'string',
            describe:
              'the noon dependency to write (a version range or file: path); default: from a checkout, a tarball of it packed into <dir>/vendor/',
          })
          .option('name', { type: 'string', describe: 'the package name (default: the folder name)' }),
      op(async (_c, _l, a) => {
        const { dir, files, noon } = initProject(String(a.dir), {
          ...(typeof a.noon === 'string' ? { noon: a.noon } : {}),
          ...(typeof a.name === 'string' ? { name: a.name } : {}),
        });
        process.stdout.write(
          `noon init: wrote ${files.length} files in ${dir} (noon: ${noon})\nnext:  cd ${dir} && npm install && npm run up\n`,
        );
      }),
    )
    .command(
      'gen',
      "TypeScript from the project's IDL (noon.config.json: idl -> gen), noon.thrift includable",
      (b) => withConfigFlags(b, KEYS.project).options(json),
      op(async (c, _l, a) => {
        const out = generate(readProject(c));
        if (a.json === true) printJson(out);
        else process.stdout.write(`noon gen: ${out.idl.join(', ')} -> ${out.outDir}\n`);
      }),
    )
    .command(
      'idl:check',
      "fail on every change to the project's IDL that breaks a client or service on the last release (<idl>/released)",
      (b) => withConfigFlags(b, KEYS.project).options({ ...idlDirs, ...json }),
      op(async (c, _l, a) => {
        const dirs = idlDirsOf(c, a);
        const out = checkIdl(dirs.idl, dirs.released);
        if (a.json === true) printJson(out);
        else process.stdout.write(describeIdlCheck(out, dirs.released));
        if (out.breaking.length > 0) process.exit(1);
      }),
    )
    .command(
      'idl:release',
      "snapshot the project's IDL as the last release (<idl>/released), what idl:check compares with",
      (b) => withConfigFlags(b, KEYS.project).options({ ...idlDirs, ...json }),
      op(async (c, _l, a) => {
        const dirs = idlDirsOf(c, a);
        const files = cutRelease(dirs.idl, dirs.released);
        if (a.json === true) printJson({ files, released: dirs.released });
        else process.stdout.write(`noon idl:release: ${files.join(', ')} -> ${dirs.released}\n`);
      }),
    )
    .command(
      'migrate',
      "apply every service's pending SQL migrations",
      (b) => withConfigFlags(b, KEYS.data).options(json),
      op(async (c, l, a) => {
        const applied = await migrateAll(c, l);
        if (a.json === true) printJson(applied);
        else
          process.stdout.write(
            describeMigrations(applied, c.pgUrl === undefined ? `PGlite in ${c.dataDir}` : 'Postgres'),
          );
      }),
    )
    .command('yellow', 'ask Yellow: services, instances, targets, watch, drain', yellowCommands)
    .command('keys', "the internal plane's CURVE keys: generate, rotate, retire, list", keysCommands)
    .command(
      'brokers',
      'what the BrokerList tells clients',
      (b) =>
        withConfigFlags(b, KEYS.brokerlist).options({
          ...json,
          url: { type: 'string', describe: 'BrokerList URL (default: from Yellow, else --brokerlist-port)' },
        }),
      op((c, l, a) =>
        runBrokers(c, l, { json: a.json === true, ...(typeof a.url === 'string' ? { url: a.url } : {}) }),
      ),
    )
    .command(
      'top',
      'live calls/s, p99, in-flight, load and errors per instance',
      (b) =>
        withConfigFlags(b, KEYS.operator).options({
          ...json,
          once: { type: 'boolean', default: false, describe: 'one snapshot, then exit' },
          interval: {
            default: 1000,
            requiresArg: true,
            coerce: intOption('interval', { min: 100, max: 3_600_000, unit: 'of ms' }),
            describe: 'ms between refreshes [integer 100..3600000]',
          },
        }),
      op((c, l, a) => runTop(c, l, { once: a.once === true, json: a.json === true, intervalMs: Number(a.interval) })),
    )
    .command(
      'tap <query>',
      'stream the calls matching a query from every broker (docs/tap.md), e.g. "SELECT method, user, latency_ms FROM calls WHERE method LIKE \'Player:%\'"',
      (b) =>
        withConfigFlags(b, KEYS.admin)
          .positional('query', {
            type: 'string',
            demandOption: true,
            describe: 'SELECT … FROM calls WHERE … (docs/query.md)',
          })
          .options({
            json: { type: 'boolean', default: false, describe: 'one JSON object per call on stdout (NDJSON)' },
            services: {
              type: 'boolean',
              default: false,
              describe: 'tap every service instance too (they also see service-to-service calls)',
            },
            rate: {
              requiresArg: true,
              coerce: intOption('rate', { min: 1, max: 1000, unit: 'of records/s' }),
              describe: 'records per second at most, per instance [integer 1..1000] [default: 100]',
            },
            sample: {
              requiresArg: true,
              coerce: fractionOption('sample'),
              describe: 'keep this fraction of the matching calls, e.g. 0.1 [default: 1]',
            },
            limit: {
              requiresArg: true,
              coerce: intOption('limit', { min: 1 }),
              describe: 'exit after this many calls',
            },
          }),
      op((c, l, a) =>
        runTap(c, l, {
          query: String(a.query),
          json: a.json === true,
          services: a.services === true,
          ...(a.rate !== undefined ? { rate: Number(a.rate) } : {}),
          ...(a.sample !== undefined ? { sample: Number(a.sample) } : {}),
          ...(a.limit !== undefined ? { limit: Number(a.limit) } : {}),
        }),
      ),
    )
    .command(
      'health',
      'end-to-end check through the SDK: BrokerList, broker, login, a call, a push',
      (b) =>
        withConfigFlags(b, KEYS.brokerlist).options({
          ...json,
          url: { type: 'string', describe: 'BrokerList URL (default: from Yellow, else --brokerlist-port)' },
          'step-timeout': {
            default: 10_000,
            requiresArg: true,
            coerce: intOption('step-timeout', { min: 1, max: 3_600_000, unit: 'of ms' }),
            describe: 'deadline of each step, ms [integer 1..3600000]',
          },
          ca: {
            type: 'string',
            describe: "PEM file of the CA the cluster's TLS certificates must chain to (default: the system store)",
          },
          transport: {
            choices: TRANSPORT_KINDS,
            describe: 'broker transport (default: tls for an https:// BrokerList, else tcp)',
          },
        }),
      op(async (c, l, a) => {
        const report = await checkHealth(
          await brokerListUrl(c, l, typeof a.url === 'string' ? a.url : undefined),
          Number(a.stepTimeout),
          {
            ...(typeof a.ca === 'string' ? { ca: readCaFile(a.ca) } : {}),
            ...(typeof a.transport === 'string' ? { transport: a.transport as TransportKind } : {}),
          },
        );
        if (a.json === true) printJson(report);
        else process.stdout.write(describeHealth(report));
        process.exit(report.ok ? 0 : 1);
      }),
    )
    .command(loadtestCommand)
    .demandCommand(1, 'name a command')
    .strict()
    .fail((msg, err) => {
      // yargs' own errors (a bad value refused by an option's coerce included) are usage errors
      if (err && err.name !== 'YError') fatal(err);
      process.stderr.write(`noon: ${msg}\nRun "noon --help" (or "noon <command> --help") for usage.\n`);
      process.exit(EXIT_CONFIG);
    })
    .help()
    .alias('h', 'help')
    .wrap(Math.min(120, process.stdout.columns ?? 100));
}

/**
 * A long-running command that failed to start: config problems exit 2, others 1, with one line
 * naming what failed (the stack only with debug output).
 */
function fatal(err: unknown, cfg?: Config, role?: string): never {
  if (err instanceof ConfigError || err instanceof UsageError) exitOnConfigError(err);
  process.stderr.write(
    `noon: ${describeFailure(err, { stacks: debugOutput, ...(cfg && { cfg }), ...(role !== undefined && { role }) })}\n`,
  );
  process.exit(1);
}
