/**
 * Issue "edge": client → broker → service → back, framed TCP Thrift `Leaderboard:top` in compact
 * protocol, next to a raw two-hop relay measured in the same run: client TCP (length-prefixed
 * frames) → relay process → zeromq DEALER → echo ROUTER process → back (no Thrift).
 * Processes: Yellow, the fixture Leaderboard, the broker, the relay and the echo each in its
 * own child; the load generator is this process.
 *
 * Variants: `slot client` sends pre-encoded calls and matches replies by seqid (the same client
 * code drives the relay, so the ratio compares broker + service with relay + echo);
 * `typed client` is test/support/raw-client.ts (generated Thrift client over ThriftChannel:
 * encode + decode per call in this process).
 *
 * `BENCH_BASE=<commit>[,<commit>…]` also starts each commit's Yellow, Leaderboard and broker
 * (lib/base-tree.ts) and measures them with the slot client right before this checkout's, in
 * every scenario: before and after in the same run, with a ratio table. `BENCH_TYPED=0` leaves
 * out the typed-client rows.
 *
 *   node --import tsx bench/broker.ts
 *   BENCH_BASE=main BENCH_TYPED=0 BENCH_SCENARIOS=1x1,64x1,64x64 node --import tsx bench/broker.ts
 */
import { rawClient, type RawClient } from '../test/support/raw-client';
import { closedLoop, timings, type LoadResult } from './lib/load';
import { spawnReady, stopChild, type Child } from './lib/procs';
import {
  beforeAfterTable,
  progress,
  ratioTable,
  resultTable,
  type BeforeAfter,
  type Ratio,
  type Row,
} from './lib/table';
import { SlotClient } from './lib/thrift-client';
import { runAsMain } from './lib/main';
import { startNoonStack, type NoonStack } from './lib/noon-stack';
import { baseTree, type BaseTree } from './lib/base-tree';

const SCENARIOS = [
  { inFlight: 1, connections: 1 },
  { inFlight: 64, connections: 1 },
  { inFlight: 512, connections: 1 },
  // 64 clients with one call each: the shape of real game clients
  { inFlight: 64, connections: 64 },
  { inFlight: 100, connections: 100 },
  { inFlight: 512, connections: 100 },
];
/** BENCH_SCENARIOS=64x1,512x100 runs only those (for profiling). */
const ONLY = process.env.BENCH_SCENARIOS?.split(',');
const BASES = process.env.BENCH_BASE ? process.env.BENCH_BASE.split(',') : [];
const TYPED = process.env.BENCH_TYPED !== '0';
const TARGET = 0.7;

const startNoon = (children: Child[], root?: string): Promise<NoonStack> => startNoonStack(children, root);

/** The raw relay and its echo, both sending in `mode` (lib/zmq-senders.ts). */
async function startRelay(
  children: Child[],
  mode: 'coalescing' | 'turn',
): Promise<{ relay: Child; echo: Child; tcp: string }> {
  const echo = await spawnReady(`echo-${mode}`, 'bench/procs/zmq-echo.ts', { BENCH_SEND_MODE: mode });
  children.push(echo);
  const relay = await spawnReady(`relay-${mode}`, 'bench/procs/relay.ts', {
    BENCH_ECHO: String(echo.ready.router),
    BENCH_SEND_MODE: mode,
  });
  children.push(relay);
  return { relay, echo, tcp: String(relay.ready.tcp) };
}

async function typedClients(tcp: string, n: number): Promise<RawClient[]> {
  return Promise.all(Array.from({ length: n }, () => rawClient(tcp, 'compact')));
}

export async function runBroker(): Promise<string> {
  const { warmupMs, durationMs } = timings();
  const children: Child[] = [];
  const rows: Row[] = [];
  const ratios: Ratio[] = [];
  const vsBase: BeforeAfter[] = [];
  try {
    const bases: Array<{ tree: BaseTree; noon: Awaited<ReturnType<typeof startNoon>> }> = [];
    for (const tree of BASES.map(baseTree)) bases.push({ tree, noon: await startNoon(children, tree.dir) });
    const noon = await startNoon(children);
    const raw = await startRelay(children, 'coalescing');
    // The relay flushing once per turn, as noon's sender does: what noon is compared with
    // when many connections each have one call in flight.
    const rawTurn = await startRelay(children, 'turn');
    for (const { inFlight, connections } of SCENARIOS.filter(
      (s) => !ONLY || ONLY.includes(`${s.inFlight}x${s.connections}`),
    )) {
      const measure = async (
        label: string,
        call: (slot: number) => Promise<void>,
        cpu: Record<string, number>,
      ): Promise<LoadResult> => {
        const result = await closedLoop({ inFlight, warmupMs, durationMs, call, cpu: { client: process.pid, ...cpu } });
        progress(`${label} @${inFlight}/${connections}`, result);
        rows.push({ label, connections, result });
        return result;
      };
      const slotRun = async (label: string, stack: Awaited<ReturnType<typeof startNoon>>): Promise<LoadResult> => {
        const slot = await SlotClient.open(stack.tcp, connections, inFlight);
        try {
          return await measure(label, (s) => slot.call(s), { broker: stack.broker.pid, service: stack.lb.pid });
        } finally {
          slot.close();
        }
      };
      const before: Array<[string, LoadResult]> = [];
      for (const b of bases) before.push([b.tree.name, await slotRun(`noon @ ${b.tree.name}, slot client`, b.noon)]);
      const n = await slotRun('noon broker, slot client', noon);
      for (const [name, result] of before)
        vsBase.push({
          level: `${inFlight} in flight / ${connections} conn, ${name} → this checkout`,
          before: result,
          after: n,
        });
      if (TYPED) {
        const typed = await typedClients(noon.tcp, connections);
        await measure(
          'noon broker, typed client',
          async (s) => void (await (typed[s % connections] as RawClient).leaderboard.top('bench', 1)),
          { broker: noon.broker.pid, service: noon.lb.pid },
        );
        for (const c of typed) c.close();
      }
      const slotRaw = await SlotClient.open(raw.tcp, connections, inFlight);
      const r = await measure('raw relay → zmq echo, slot client', (s) => slotRaw.call(s), {
        relay: raw.relay.pid,
        echo: raw.echo.pid,
      });
      slotRaw.close();
      const slotTurn = await SlotClient.open(rawTurn.tcp, connections, inFlight);
      await measure('raw relay → zmq echo, per-turn sends, slot client', (s) => slotTurn.call(s), {
        relay: rawTurn.relay.pid,
        echo: rawTurn.echo.pid,
      });
      slotTurn.close();
      ratios.push({
        level: `${inFlight} in flight / ${connections} conn`,
        noon: n,
        raw: r,
        ...(inFlight >= 64 ? { target: TARGET } : {}),
      });
    }
  } finally {
    await Promise.all(children.reverse().map((c) => stopChild(c)));
  }
  return [
    '### Client → broker → service (edge)',
    '',
    `Closed loop, ${durationMs / 1000} s per row after ${warmupMs / 1000} s warm-up; calls spread round-robin over the connections. Ratio: slot-client rows.`,
    '',
    resultTable(rows),
    '',
    ratioTable('level', ratios),
    ...(vsBase.length > 0
      ? [
          '',
          'Before (a base commit) and after (this checkout), slot client, same run; CPU = broker + service:',
          '',
          beforeAfterTable('level', vsBase),
        ]
      : []),
  ].join('\n');
}

if (require.main === module) runAsMain(runBroker);
