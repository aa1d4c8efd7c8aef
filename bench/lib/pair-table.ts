/**
 * One markdown table of noon rows each followed by its baseline row of the same run and level,
 * with noon's rate as a share of the baseline's (lib/table.ts keeps rates and ratios apart).
 */
import type { LoadResult } from './load';

export interface Pair {
  noonLabel: string;
  rawLabel: string;
  noon: LoadResult;
  raw: LoadResult;
}

const fmtInt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const fmtUs = (us: number): string => (us >= 10_000 ? `${(us / 1000).toFixed(1)} ms` : `${Math.round(us)} µs`);

function cpuCell(r: LoadResult): string {
  const entries = Object.entries(r.cpuPerCall);
  if (entries.length === 0) return '–';
  const total = entries.reduce((a, [, v]) => a + v, 0);
  const parts = entries.map(([k, v]) => `${k} ${Number.isFinite(v) ? v.toFixed(0) : '?'}`);
  return `${Number.isFinite(total) ? total.toFixed(0) : '?'} (${parts.join(' + ')})`;
}

function row(label: string, r: LoadResult, vs: string): string {
  const errors = r.errors ? `${r.errors} (${r.firstError ?? ''})` : '0';
  return `| ${[label, String(r.inFlight), fmtInt(r.rate), fmtUs(r.p50Us), fmtUs(r.p99Us), vs, errors, cpuCell(r)].join(' | ')} |`;
}

export function pairTable(pairs: Pair[]): string {
  const lines = [
    '| variant | in flight | calls/s | p50 | p99 | vs baseline | errors | CPU µs/call (per process) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const { noonLabel, rawLabel, noon, raw } of pairs) {
    lines.push(
      row(noonLabel, noon, `**${((noon.rate / raw.rate) * 100).toFixed(0)}%**`),
      row(rawLabel, raw, 'baseline'),
    );
  }
  return lines.join('\n');
}
