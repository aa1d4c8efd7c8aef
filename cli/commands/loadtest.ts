/**
 * `noon loadtest`: simulated players against a running cluster, then a report (text, --json,
 * --html). Exit 0 when every call is accounted for and the money check (if any) holds; 1 when not;
 * 2 on bad usage (a bad scenario names the field).
 *
 *   noon loadtest --brokerlist http://127.0.0.1:7780 --scenario loadtest/scenarios/default.json \
 *     --players 100 --duration 20 --html report.html
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule, Options } from 'yargs';
import { ConfigError } from '../../shared/config';
import {
  formatText,
  loadScenario,
  loadTest,
  renderHtml,
  ScenarioError,
  withOverrides,
  type Report,
} from '../../loadtest';
import { verdictOf } from '../../loadtest/verdict';
import { loopbackSources } from '../../loadtest/sources';
import { TargetError } from '../../loadtest/targets';
import { TRANSPORT_KINDS, type TransportKind } from '../../client/brokerlist';
import { readCaFile } from '../health';
import { configFrom, intOption, OPERATOR_KEYS, withConfigFlags } from '../options';

export interface LoadtestArgs {
  brokerlist: string;
  scenario: string;
  players?: number;
  duration?: number;
  maxActions?: number;
  transport: TransportKind;
  ca?: string;
  json: boolean;
  html?: string;
  allowRemote: boolean;
  metricsUrl?: string[];
  sourceIps?: string[];
  sourceIpCount?: number;
}

export const DEFAULT_SCENARIO = join(__dirname, '..', '..', 'loadtest', 'scenarios', 'default.json');

/** A whole-number option, checked as it is parsed: a bad value names the flag and exits 2. */
function count(flag: string, describe: string, max: number): Options {
  return { requiresArg: true, coerce: intOption(flag, { min: 1, max }), describe: `${describe} [integer 1..${max}]` };
}

function builder(y: Argv): Argv<LoadtestArgs> {
  return withConfigFlags(y, [...OPERATOR_KEYS, 'pgUrl'])
    .option('brokerlist', {
      type: 'string',
      default: 'http://127.0.0.1:7780',
      describe: 'BrokerList URL of the cluster under test',
    })
    .option('scenario', { type: 'string', default: DEFAULT_SCENARIO, describe: 'scenario JSON file' })
    .option('players', count('players', "override the scenario's player count", 1_000_000))
    .option('duration', count('duration', "override the scenario's duration, seconds", 86_400))
    .option('max-actions', count('max-actions', "override the scenario's action budget", 1_000_000_000))
    .option('transport', {
      choices: TRANSPORT_KINDS,
      default: 'tcp' as TransportKind,
      describe: 'client transport (tls and wss: verified against --ca, else the system store)',
    })
    .option('ca', {
      type: 'string',
      describe: "PEM file of the CA the cluster's TLS certificates must chain to (default: the system store)",
    })
    .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' })
    .option('html', { type: 'string', describe: 'also write an HTML report (inline SVG charts) to this file' })
    .option('allow-remote', { type: 'boolean', default: false, describe: 'allow non-loopback targets' })
    .option('metrics-url', {
      type: 'string',
      array: true,
      describe: "brokers' /metrics URLs (default: asked from Yellow, --yellow)",
    })
    .option('source-ips', {
      type: 'string',
      array: true,
      describe: "loopback source addresses to spread connections over (past one address's ephemeral ports)",
    })
    .option('source-ip-count', count('source-ip-count', 'use 127.0.0.1 … 127.0.0.N as source addresses', 254))
    .epilog(
      'The money check runs when --pg-url or NOON_PG_URL is set. Progress goes to stderr, the report to stdout.',
    ) as unknown as Argv<LoadtestArgs>;
}

function fail(code: number, message: string): never {
  process.stderr.write(`noon loadtest: ${message}\n`);
  process.exit(code);
}

function verdict(r: Report): number {
  return verdictOf(r).ok ? 0 : 1;
}

async function handler(argv: ArgumentsCamelCase<LoadtestArgs>): Promise<void> {
  const ctl = new AbortController();
  let signals = 0;
  const onSignal = (): void => {
    if (++signals > 1) process.exit(130);
    process.stderr.write('\nnoon loadtest: stopping (players finish their current action; again to quit now)\n');
    ctl.abort();
  };
  process.on('SIGINT', onSignal);
  try {
    const cfg = configFrom(argv as unknown as Record<string, unknown>);
    const scenario = withOverrides(loadScenario(argv.scenario), {
      players: argv.players,
      durationSeconds: argv.duration,
      maxActions: argv.maxActions,
    });
    const sources =
      argv.sourceIps ?? (argv.sourceIpCount !== undefined ? loopbackSources(argv.sourceIpCount) : undefined);
    const report = await loadTest({
      scenario,
      brokerListUrl: argv.brokerlist,
      transport: argv.transport,
      ...(argv.ca !== undefined && { ca: readCaFile(argv.ca) }),
      allowRemote: argv.allowRemote,
      signal: ctl.signal,
      ...(sources && { sources }),
      yellow: cfg.yellow,
      ...(argv.metricsUrl && { metricsUrls: argv.metricsUrl }),
      ...(cfg.pgUrl !== undefined && { pgUrl: cfg.pgUrl }),
    });
    process.stdout.write(
      argv.json ? `${JSON.stringify({ ...report, verdict: verdictOf(report) }, null, 2)}\n` : formatText(report),
    );
    if (argv.html) writeFileSync(argv.html, renderHtml(report));
    process.exitCode = verdict(report);
  } catch (err) {
    if (err instanceof ScenarioError || err instanceof ConfigError || err instanceof TargetError) fail(2, err.message);
    fail(1, (err as Error).message);
  } finally {
    process.off('SIGINT', onSignal);
  }
}

export const loadtestCommand: CommandModule<object, LoadtestArgs> = {
  command: 'loadtest',
  describe: 'run simulated players against a cluster and report latency, errors and call accounting',
  builder,
  handler,
};

export default loadtestCommand;
