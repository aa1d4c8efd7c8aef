/** Plain-text tables for people (`--json` is for scripts). */

export type Cell = string | number | boolean | undefined;

export function table(headers: string[], rows: Cell[][]): string {
  const text = rows.map((r) => headers.map((_, i) => fmt(r[i])));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...text.map(line)].join('\n') + '\n';
}

function fmt(c: Cell): string {
  if (c === undefined) return '-';
  if (typeof c === 'number') return Number.isInteger(c) ? String(c) : c.toFixed(c < 10 ? 3 : 1);
  return String(c);
}

/** 5s, 3m, 2h, 4d: how long ago `since` (ms epoch) was. */
export function age(since: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - since) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}
