/**
 * Debian's Prometheus for tests: promtool runs, and a throwaway server on a free port with its
 * own data directory, ready when /-/ready answers (polled with a deadline), stopped by its pid.
 * Also what the shipped files need substituted to run here: the Grafana dashboard's variables
 * and the prometheus-adapter's query template.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './data-redis-servers';
import { until } from './wait';

export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMTOOL = '/usr/bin/promtool';

export function promtool(args: string[]): { code: number | null; out: string } {
  const r = spawnSync(PROMTOOL, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`${PROMTOOL} could not run (apt-get install prometheus): ${r.error.message}`);
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

export interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusServer {
  url: string;
  pid: number;
  /** An instant query's vector (throws on an API error, naming the query). */
  query(expr: string): Promise<VectorSample[]>;
  get<T>(path: string): Promise<T>;
  stop(): Promise<void>;
  log(): string;
}

/** Starts Prometheus on `config` (YAML text; relative paths resolve in its own temp dir). */
export async function startPrometheus(config: string): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'noon-prom-'));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(
    PROMETHEUS,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const lines: string[] = [];
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (c: string) => lines.push(c));
  let spawnError: Error | undefined;
  proc.on('error', (err) => (spawnError = err));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) process.kill(proc.pid, 'SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`GET ${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  try {
    await until(
      `prometheus on port ${port}`,
      async () => {
        if (spawnError) throw spawnError;
        if (proc.exitCode !== null) throw new Error(`prometheus exited with ${proc.exitCode}: ${lines.join('')}`);
        return (await fetch(`${url}/-/ready`)).ok;
      },
      30_000,
      50,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    pid: proc.pid as number,
    get,
    query: async (expr) => {
      const data = await get<{ resultType: string; result: VectorSample[] }>(
        `/api/v1/query?query=${encodeURIComponent(expr)}`,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n  query: ${expr}`);
      });
      return data.result;
    },
    stop,
    log: () => lines.join(''),
  };
}

/** A Grafana dashboard's queries, with its variables replaced as Grafana would at `rateInterval`. */
export interface DashboardQuery {
  panel: string;
  expr: string;
}

interface Dashboard {
  templating?: { list?: Array<{ name: string; current?: { value?: string } }> };
  panels?: Array<{ title: string; targets?: Array<{ expr?: string }>; panels?: Dashboard['panels'] }>;
}

export function dashboardQueries(dashboard: Dashboard, rateInterval: string): DashboardQuery[] {
  const vars = new Map<string, string>([['__rate_interval', rateInterval]]);
  for (const v of dashboard.templating?.list ?? []) vars.set(v.name, v.current?.value ?? '');
  const substitute = (expr: string): string =>
    expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a?: string, b?: string) => {
      const name = a ?? b ?? '';
      const value = vars.get(name);
      if (value === undefined) throw new Error(`dashboard variable ${whole} is not defined`);
      return value;
    });
  const out: DashboardQuery[] = [];
  const walk = (panels: Dashboard['panels']): void => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ panel: p.title, expr: substitute(t.expr) });
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}

/** prometheus-adapter's metricsQuery template with its fields filled in (Go template `<<.Field>>`). */
export function adapterQuery(
  template: string,
  fields: { Series: string; LabelMatchers: string; GroupBy: string },
): string {
  return template.replace(/<<\s*\.(\w+)\s*>>/g, (whole, name: string) => {
    const v = (fields as unknown as Record<string, string>)[name];
    if (v === undefined) throw new Error(`adapter template field ${whole} is not known`);
    return v;
  });
}
