/**
 * The traffic tap's cost (docs/tap.md): client → broker → service calls/s with no tap attached,
 * with a tap whose filter matches nothing, with a tap that matches every call (its records
 * streamed to a reader in this process, up to the rate cap), and with a matching tap that also
 * decodes the arguments. The variants alternate round by round in one run on the same processes
 * (Yellow, the fixture Leaderboard and a broker, each a child), so drift on the shared machine
 * hits them alike; the ratio table compares each variant's median with the no-tap median.
 *
 *   node --import tsx bench/tap.ts            (npm run bench:tap)
 *   BENCH_TAP_ROUNDS=5 BENCH_TAP_RATE=1000 …   rounds per variant (default 3), the taps' rate cap
 */
import { closedLoop, timings, type LoadResult } from './lib/load';
import { stopChild, waitFor, type Child } from './lib/procs';
import { progress, resultTable, type Row } from './lib/table';
import { SlotClient } from './lib/thrift-client';
import { runAsMain } from './lib/main';
import { startNoonStack } from './lib/noon-stack';

const SCENARIOS = [
  { inFlight: 64, connections: 1 },
  { inFlight: 64, connections: 64 },
];
const ROUNDS = Number(process.env.BENCH_TAP_ROUNDS ?? 3);
const RATE = Number(process.env.BENCH_TAP_RATE ?? 1000);
const TOKEN = 'bench-tap-admin-token-000000';

const VARIANTS: Array<{ label: string; query?: string }> = [
  { label: 'no tap' },
  { label: 'tap, filter matches nothing', query: "SELECT method FROM calls WHERE method = 'Nobody:calls'" },
  {
    label: 'tap, filter matches every call',
    query: "SELECT method, user, outcome, latency_ms, trace_id FROM calls WHERE method LIKE 'Leaderboard:%'",
  },
  { label: 'tap, every call, with args', query: "SELECT method, args FROM calls WHERE method = 'Leaderboard:top'" },
];

interface Attached {
  /** call records received */
  records(): number;
  /** drops the tap reported last */
  dropped(): number;
  close(): Promise<void>;
}

async function tapsAttached(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith('noon_taps'));
  return Number(line?.split(' ').at(-1));
}

/** A tap read in this process: lines counted, nothing kept. */
async function attach(metricsUrl: string, query: string): Promise<Attached> {
  const url = new URL('/tap', metricsUrl);
  url.searchParams.set('q', query);
  url.searchParams.set('rate', String(RATE));
  const abort = new AbortController();
  const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` }, signal: abort.signal });
  if (res.status !== 200 || !res.body) throw new Error(`tap refused: HTTP ${res.status} ${await res.text()}`);
  let records = 0;
  let dropped = 0;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const reading = (async () => {
    let rest = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        rest += decoder.decode(value, { stream: true });
        const lines = rest.split('\n');
        rest = lines.pop() ?? '';
        for (const l of lines) {
          if (l.startsWith('{"type":"call"')) records++;
          else if (l.startsWith('{"type":"dropped"')) {
            const d = JSON.parse(l) as { rate: number; queue: number; overflow: number };
            dropped = d.rate + d.queue + d.overflow;
          }
        }
      }
    } catch {
      // closed
    }
  })();
  return {
    records: () => records,
    dropped: () => dropped,
    close: async () => {
      abort.abort();
      await reading;
      await waitFor('the tap to be detached', async () => ((await tapsAttached(metricsUrl)) === 0 ? true : undefined));
    },
  };
}

function median(results: LoadResult[]): number {
  const rates = results.map((r) => r.rate).sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)] ?? Number.NaN;
}

export async function runTapBench(): Promise<string> {
  const { warmupMs, durationMs } = timings();
  const children: Child[] = [];
  const rows: Row[] = [];
  const summary: string[] = [];
  try {
    const { broker, lb, tcp } = await startNoonStack(children, undefined, { NOON_ADMIN_TOKEN: TOKEN });
    const metricsUrl = String(broker.ready.metrics);
    for (const { inFlight, connections } of SCENARIOS) {
      const byVariant = new Map<string, LoadResult[]>(VARIANTS.map((v) => [v.label, []]));
      const streamed = new Map<string, { records: number; dropped: number }>();
      for (let round = 0; round < ROUNDS; round++) {
        // a different order each round: no variant always runs first (or right after another)
        const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length] as (typeof VARIANTS)[number]);
        for (const v of order) {
          const tap = v.query ? await attach(metricsUrl, v.query) : undefined;
          const slot = await SlotClient.open(tcp, connections, inFlight);
          let result: LoadResult;
          try {
            result = await closedLoop({
              inFlight,
              warmupMs,
              durationMs,
              call: (s) => slot.call(s),
              cpu: { client: process.pid, broker: broker.pid, service: lb.pid },
            });
          } finally {
            slot.close();
          }
          const label = `${v.label} (round ${round + 1})`;
          progress(`${label} @${inFlight}/${connections}`, result);
          rows.push({ label, connections, result });
          byVariant.get(v.label)?.push(result);
          if (tap) {
            const s = streamed.get(v.label) ?? { records: 0, dropped: 0 };
            s.records += tap.records();
            s.dropped += tap.dropped();
            streamed.set(v.label, s);
            await tap.close();
          }
        }
      }
      const base = median(byVariant.get('no tap') ?? []);
      summary.push(
        ...VARIANTS.map((v) => {
          const m = median(byVariant.get(v.label) ?? []);
          const s = streamed.get(v.label);
          return `| ${inFlight} in flight / ${connections} conn | ${v.label} | ${Math.round(m).toLocaleString('en-US')} | ${((m / base) * 100).toFixed(0)}% | ${s ? `${s.records.toLocaleString('en-US')} streamed, ${s.dropped.toLocaleString('en-US')} dropped` : '–'} |`;
        }),
      );
    }
  } finally {
    await Promise.all(children.reverse().map((c) => stopChild(c)));
  }
  return [
    '### The traffic tap: no tap, a non-matching tap, a matching tap',
    '',
    `Client → broker → Leaderboard:top, closed loop, ${durationMs / 1000} s per row after ${warmupMs / 1000} s warm-up; ${ROUNDS} rounds, variants in a rotating order; taps capped at ${RATE} records/s.`,
    '',
    resultTable(rows),
    '',
    '| level | variant | median calls/s | vs no tap | records |',
    '| --- | --- | ---: | ---: | --- |',
    ...summary,
  ].join('\n');
}

if (require.main === module) runAsMain(runTapBench);
