/// <reference types="uplot" />
/**
 * The two live charts (uPlot, loaded by the page from the console itself): calls/s and p99 by
 * method over the points the console keeps. A chart is rebuilt when the set of methods changes,
 * else only its data is swapped. Each chart's container carries the latest point's time and
 * values as data attributes, for whoever checks the page (a test, a person in devtools).
 */

export interface SeriesBody {
  times: number[];
  methods: Array<{ method: string; callsPerSec: Array<number | null>; p99Ms: Array<number | null> }>;
}

const COLORS = ['#2d6cdf', '#d9480f', '#2b8a3e', '#862e9c', '#c2255c', '#0b7285', '#e67700', '#5c940d', '#364fc7'];

export class MethodChart {
  private plot?: uPlot;
  private methods = '';

  constructor(
    private readonly el: HTMLElement,
    private readonly pick: (m: SeriesBody['methods'][number]) => Array<number | null>,
    private readonly unit: string,
  ) {}

  update(body: SeriesBody): void {
    const names = body.methods.map((m) => m.method).join('\n');
    const data: uPlot.AlignedData = [body.times, ...body.methods.map((m) => this.pick(m))];
    if (!this.plot || names !== this.methods) {
      this.plot?.destroy();
      this.methods = names;
      this.plot = new uPlot(this.options(body), data, this.el);
    } else this.plot.setData(data);
    this.mark(body);
  }

  resize(): void {
    this.plot?.setSize({ width: this.width(), height: 240 });
  }

  private width(): number {
    return Math.max(300, this.el.clientWidth);
  }

  private options(body: SeriesBody): uPlot.Options {
    return {
      width: this.width(),
      height: 240,
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [{}, { label: this.unit, size: 56 }],
      series: [
        {},
        ...body.methods.map((m, i) => ({
          label: m.method,
          stroke: COLORS[i % COLORS.length] as string,
          width: 1.5,
          spanGaps: false,
        })),
      ],
      legend: { show: true },
    };
  }

  private mark(body: SeriesBody): void {
    const last = body.times.length - 1;
    this.el.dataset.points = String(body.times.length);
    this.el.dataset.methods = String(body.methods.length);
    if (last < 0) return;
    this.el.dataset.lastTime = String(body.times[last]);
    let total = 0;
    for (const m of body.methods) total += this.pick(m)[last] ?? 0;
    this.el.dataset.lastTotal = String(Math.round(total * 1000) / 1000);
  }
}
