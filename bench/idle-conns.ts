/**
 * Memory per idle client connection on one broker: a broker process (bench/procs/idle-broker.ts,
 * beside a Yellow and the fixture Leaderboard), then client processes (bench/procs/idle-clients.ts)
 * holding N framed-TCP connections, from 127.0.0.x source addresses so no address meets the
 * per-address cap. At each N the broker runs a full GC and the bench reads its RSS from
 * /proc/<pid>/status and its V8 heap from the broker's answer; bytes per connection =
 * (value at N − value at 0) / N. States: connected (no message yet; the handshake, login and idle
 * deadlines are raised so they do not close them), then after one `Leaderboard:top` call each.
 *
 *   node --import tsx bench/idle-conns.ts
 *   BENCH_IDLE_N=1000,5000,19500   the steps (default)
 *   BENCH_BASE=<commit>[,…]        also runs those commits' broker code, each right before this one's
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { baseTree } from './lib/base-tree';
import { runAsMain } from './lib/main';
import { BROKER_ENV, HEARTBEAT_MS } from './lib/noon-stack';
import { ROOT, spawnReady, stopChild, waitFor, type Child } from './lib/procs';
import { SlotClient } from './lib/thrift-client';

const STEPS = (process.env.BENCH_IDLE_N ?? '1000,5000,19500').split(',').map(Number);
/** under the broker's default per-address cap (5,000) */
const PER_ADDRESS = 4_900;

interface Sample {
  state: string;
  connections: number;
  rss: number;
  heap: number;
  external: number;
}

/** RSS of `pid` in bytes (VmRSS in /proc/<pid>/status). */
function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** JSON lines a child prints after its ready line, for the bench to wait on. */
function lineReader(child: Child): (pick: (v: Record<string, unknown>) => boolean) => Promise<Record<string, unknown>> {
  const waiting: { pick: (v: Record<string, unknown>) => boolean; resolve: (v: Record<string, unknown>) => void }[] =
    [];
  createInterface({ input: child.proc.stdout! }).on('line', (line) => {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    const i = waiting.findIndex((w) => w.pick(v as Record<string, unknown>));
    if (i >= 0) waiting.splice(i, 1)[0]?.resolve(v as Record<string, unknown>);
  });
  return (pick) => new Promise((resolve) => waiting.push({ pick, resolve }));
}

async function runVariant(label: string, codeRoot: string): Promise<Sample[]> {
  const children: Child[] = [];
  const samples: Sample[] = [];
  try {
    const yellow = await spawnReady('yellow', 'test/support/yellow-proc.ts', {
      NOON_YELLOW_PORT: '0',
      NOON_HEARTBEAT_MS: HEARTBEAT_MS,
    });
    children.push(yellow);
    const env = { NOON_YELLOW: String(yellow.ready.router), NOON_HEARTBEAT_MS: HEARTBEAT_MS };
    children.push(await spawnReady('leaderboard', 'test/support/lb-service.ts', env, 60_000));
    const broker = await spawnReady(
      'broker',
      join(ROOT, 'bench', 'procs', 'idle-broker.ts'),
      { ...env, ...BROKER_ENV, NOON_BENCH_CODE_ROOT: codeRoot },
      // another commit's tree is compiled by tsx on its first start (no cache yet)
      180_000,
      codeRoot,
    );
    children.push(broker);
    const next = lineReader(broker);
    const tcp = String(broker.ready.tcp);
    await waitFor(
      'the broker to route Leaderboard:top',
      async () => {
        const c = await SlotClient.open(tcp, 1, 1);
        try {
          await c.call(0);
          return true;
        } finally {
          c.close();
        }
      },
      30_000,
      100,
    );
    const memory = async (): Promise<{ heap: number; external: number; connections: number }> => {
      const line = next((v) => 'mem' in v);
      broker.proc.kill('SIGUSR2');
      const m = (await line).mem as { heapUsed: number; external: number; connections: number };
      return { heap: m.heapUsed, external: m.external, connections: m.connections };
    };
    const sample = async (state: string, want: number): Promise<void> => {
      await waitFor(
        `${want} connections on the broker`,
        async () => (await memory()).connections === want,
        120_000,
        200,
      );
      // a few collections first: RSS settles (freed pages returned) only after more than one
      for (let i = 0; i < 3; i++) await memory();
      const m = await memory();
      samples.push({ state, connections: want, rss: rssOf(broker.pid), heap: m.heap, external: m.external });
      process.stderr.write(`  ${label}: ${state} ${want} rss ${(samples.at(-1)!.rss / 1e6).toFixed(1)} MB\n`);
    };
    await sample('none', 0);
    const clients: Child[] = [];
    let open = 0;
    for (const target of STEPS) {
      // a step's client processes connect side by side (each from its own source address)
      const starting: Promise<Child>[] = [];
      while (open < target) {
        const n = Math.min(PER_ADDRESS, target - open);
        const address = `127.0.0.${clients.length + starting.length + 1}`;
        starting.push(
          spawnReady(
            'clients',
            'bench/procs/idle-clients.ts',
            { IDLE_ENDPOINT: tcp, IDLE_COUNT: String(n), IDLE_LOCAL: address },
            600_000,
          ),
        );
        open += n;
      }
      for (const c of await Promise.all(starting)) {
        children.push(c);
        clients.push(c);
      }
      await sample('connected', target);
    }
    const called = clients.map((c) => lineReader(c)((v) => 'called' in v));
    for (const c of clients) c.proc.kill('SIGUSR2');
    const results = await Promise.all(called);
    const failed = results.reduce((a, r) => a + Number(r.failed), 0);
    if (failed > 0) throw new Error(`${failed} calls failed`);
    await sample('after one call each', open);
  } finally {
    for (const c of children.reverse()) await stopChild(c);
  }
  return samples;
}

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(2)} KB`;

function table(runs: { label: string; samples: Sample[] }[]): string {
  const lines = [
    '| variant | state | connections | broker RSS | RSS per conn | V8 heap per conn | external per conn |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const { label, samples } of runs) {
    const zero = samples[0] as Sample;
    for (const s of samples) {
      const per = (v: number, v0: number): string => (s.connections ? kb((v - v0) / s.connections) : '–');
      lines.push(
        `| ${label} | ${s.state} | ${s.connections.toLocaleString('en-US')} | ${(s.rss / 1048576).toFixed(1)} MB | ${per(s.rss, zero.rss)} | ${per(s.heap, zero.heap)} | ${per(s.external, zero.external)} |`,
      );
    }
  }
  return lines.join('\n');
}

export async function runIdleConns(): Promise<string> {
  const bases = (process.env.BENCH_BASE ?? '').split(',').filter(Boolean).map(baseTree);
  const runs: { label: string; samples: Sample[] }[] = [];
  for (const b of bases) runs.push({ label: `before (${b.name})`, samples: await runVariant(b.name, b.dir) });
  runs.push({ label: 'this checkout', samples: await runVariant('this checkout', ROOT) });
  return [
    `### Broker memory per idle connection (framed TCP; steps ${STEPS.join(', ')})`,
    '',
    table(runs),
    '',
    '_per conn = (value at N − value with no client) / N, each read right after a full GC in the broker_',
  ].join('\n');
}

if (require.main === module) runAsMain(runIdleConns);
