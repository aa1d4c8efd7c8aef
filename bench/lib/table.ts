/** Markdown tables of load results. */
import type { LoadResult } from './load';

export interface Row {
  label: string;
  connections?: number;
  result: LoadResult;
}

const fmtInt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const fmtUs = (us: number): string => (us >= 10_000 ? `${(us / 1000).toFixed(1)} ms` : `${Math.round(us)} µs`);

function cpuCell(r: LoadResult): string {
  const parts = Object.entries(r.cpuPerCall).map(([k, v]) => `${k} ${Number.isFinite(v) ? v.toFixed(0) : '?'}`);
  const total = Object.values(r.cpuPerCall).reduce((a, b) => a + b, 0);
  return parts.length ? `${Number.isFinite(total) ? total.toFixed(0) : '?'} (${parts.join(' + ')})` : '–';
}

export function resultTable(rows: Row[]): string {
  const withConns = rows.some((r) => r.connections !== undefined);
  const head = [
    'variant',
    'in flight',
    ...(withConns ? ['conns'] : []),
    'calls/s',
    'p50',
    'p99',
    'errors',
    'CPU µs/call (per process)',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((h, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const { label, connections, result: r } of rows) {
    const cells = [
      label,
      String(r.inFlight),
      ...(withConns ? [String(connections ?? '')] : []),
      fmtInt(r.rate),
      fmtUs(r.p50Us),
      fmtUs(r.p99Us),
      r.errors ? `${r.errors} (${r.firstError ?? ''})` : '0',
      cpuCell(r),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

export interface Ratio {
  level: string;
  noon: LoadResult;
  raw: LoadResult;
  target?: number;
}

export function ratioTable(title: string, ratios: Ratio[]): string {
  const lines = [`| ${title} | noon calls/s | raw calls/s | noon/raw | target |`, '| --- | ---: | ---: | ---: | --- |'];
  for (const { level, noon, raw, target } of ratios) {
    const ratio = noon.rate / raw.rate;
    const verdict = target === undefined ? '' : `≥ ${Math.round(target * 100)}% ${ratio >= target ? '✅' : '❌'}`;
    lines.push(`| ${level} | ${fmtInt(noon.rate)} | ${fmtInt(raw.rate)} | ${(ratio * 100).toFixed(0)}% | ${verdict} |`);
  }
  return lines.join('\n');
}

export function progress(label: string, r: LoadResult): void {
  process.stderr.write(
    `  ${label.padEnd(40)} ${fmtInt(r.rate).padStart(8)} calls/s  p50 ${fmtUs(r.p50Us).padStart(8)}  p99 ${fmtUs(r.p99Us).padStart(8)}${r.errors ? `  errors ${r.errors}` : ''}\n`,
  );
}

export interface BeforeAfter {
  level: string;
  before: LoadResult;
  after: LoadResult;
}

/** CPU per call of the measured servers: every sampled process but the load generator. */
const serverCpu = (r: LoadResult): number =>
  Object.entries(r.cpuPerCall).reduce((sum, [who, us]) => (who === 'client' ? sum : sum + us), 0);

/** The same load on two versions of the code, measured in one run: rates, ratio, CPU per call. */
export function beforeAfterTable(title: string, rows: BeforeAfter[]): string {
  const lines = [
    `| ${title} | before calls/s | after calls/s | after/before | p99 before → after | server CPU µs/call before → after |`,
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const { level, before, after } of rows) {
    const cpu = `${serverCpu(before).toFixed(0)} → ${serverCpu(after).toFixed(0)}`;
    lines.push(
      `| ${level} | ${fmtInt(before.rate)} | ${fmtInt(after.rate)} | ${(after.rate / before.rate).toFixed(2)}× | ${fmtUs(before.p99Us)} → ${fmtUs(after.p99Us)} | ${cpu} |`,
    );
  }
  return lines.join('\n');
}
