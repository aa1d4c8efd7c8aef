/**
 * The HTML report: one self-contained file (inline CSS and SVG, no scripts, no external assets)
 * with calls/s and latency (p50, p99) per second of the run, the per-method table and the
 * accounting. Every string from the run is HTML-escaped.
 */
import type { Report, SeriesPoint } from './report';
import { formatText } from './report-text';

const W = 760;
const H = 220;
const M = { l: 56, r: 16, t: 16, b: 28 };

export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

interface Line {
  label: string;
  color: string;
  values: number[];
}

/** A "nice" upper bound for an axis (1, 2, 5 × 10^k). */
export function niceMax(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const f of [1, 2, 5, 10]) if (f * p >= x) return f * p;
  return 10 * p;
}

/** An SVG line chart of one or more series over seconds 0..n-1. */
export function lineChart(title: string, unit: string, lines: Line[]): string {
  const n = Math.max(1, ...lines.map((l) => l.values.length));
  const top = niceMax(Math.max(0, ...lines.flatMap((l) => l.values)));
  const x = (i: number): number => M.l + (n <= 1 ? 0 : (i * (W - M.l - M.r)) / (n - 1));
  const y = (v: number): number => H - M.b - (v / top) * (H - M.t - M.b);
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const v = top * f;
    return `<line x1="${M.l}" x2="${W - M.r}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/><text x="${M.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${+v.toPrecision(3)}</text>`;
  });
  const ticks = Math.min(10, n);
  const xt = Array.from({ length: ticks }, (_, k) => Math.round((k * (n - 1)) / Math.max(1, ticks - 1))).map(
    (i) => `<text x="${x(i).toFixed(1)}" y="${H - 8}" text-anchor="middle">${i}s</text>`,
  );
  const paths = lines.map(
    (l) =>
      `<polyline fill="none" stroke="${l.color}" stroke-width="1.5" points="${l.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`,
  );
  const legend = lines.map(
    (l, i) => `<text x="${M.l + 10 + i * 110}" y="${M.t + 4}" fill="${l.color}">■ ${escapeHtml(l.label)}</text>`,
  );
  return `<figure><figcaption>${escapeHtml(title)} (${escapeHtml(unit)})</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-size="11" font-family="sans-serif">${grid.join('')}${xt.join('')}${paths.join('')}${legend.join('')}</svg></figure>`;
}

export function renderHtml(r: Report): string {
  const s: SeriesPoint[] = r.series;
  const rate = lineChart('Calls completed per second', 'calls/s', [
    { label: 'calls/s', color: '#1f77b4', values: s.map((p) => p.calls) },
    { label: 'errors/s', color: '#d62728', values: s.map((p) => p.errors) },
  ]);
  const lat = lineChart('Latency per second', 'ms', [
    { label: 'p50', color: '#2ca02c', values: s.map((p) => p.p50Ms) },
    { label: 'p99', color: '#ff7f0e', values: s.map((p) => p.p99Ms) },
  ]);
  const a = r.accounting;
  const ok = a.unaccounted === 0;
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>noon loadtest ${escapeHtml(r.runId)}</title>
<style>body{font-family:sans-serif;margin:24px;color:#222}pre{background:#f6f6f6;padding:12px;overflow-x:auto;font-size:12px}figure{margin:16px 0}figcaption{font-weight:bold;margin-bottom:4px}.ok{color:#2ca02c}.bad{color:#d62728}</style>
</head><body>
<h1>noon loadtest — ${escapeHtml(r.scenario.name)}</h1>
<p>${r.scenario.players} players, ${r.activeSeconds} s, ${r.totals.calls} calls (${r.totals.callsPerSec} calls/s), p50 ${r.totals.p50Ms} ms, p99 ${r.totals.p99Ms} ms.
Unaccounted calls: <b class="${ok ? 'ok' : 'bad'}">${a.unaccounted ?? 'unknown'}</b>.</p>
${rate}
${lat}
<h2>Report</h2>
<pre>${escapeHtml(formatText(r))}</pre>
</body></html>
`;
}
