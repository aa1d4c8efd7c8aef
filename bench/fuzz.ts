/**
 * The hostile-input flood at full size: a million mutated client frames (and ZeroMQ garbage,
 * slowloris, a connection flood) against `noon up --processes` (the broker a process of its own,
 * on real Postgres: NOON_TEST_PG_URL), while a good client calls. Reports frames,
 * crashes, the broker process's RSS before, right after and 20 s after the flood, and the good
 * client's calls, errors and p99 beside its own baseline from the same run (targets: 0 crashes,
 * 0 errors, p99 ≤ 2× baseline, RSS back within 20 % of its start).
 *
 *   node --import tsx bench/fuzz.ts      (npm run bench:fuzz; BENCH_FUZZ_FRAMES to change the count)
 */
import { isAlive } from '../test/support/cli-proc';
import { startFuzzCluster } from '../test/support/fuzz-cluster';
import { rssMb, runFuzz } from '../test/support/fuzz-run';
import { runAsMain } from './lib/main';

const FRAMES = Number(process.env.BENCH_FUZZ_FRAMES ?? 1_000_000);
const SETTLE_MS = 20_000;
/** The frame flood's pace (the CI run's reasons, test/integration/fuzz.test.ts). */
const FRAMES_PER_SECOND = Number(process.env.BENCH_FUZZ_FRAMES_PER_SECOND ?? 2500);

/** The broker's V8 heap in use and allocated, and its external memory (MB), from its /metrics. */
async function heapOf(metricsUrl: string): Promise<string> {
  const text = await (await fetch(metricsUrl)).text();
  const mb = (name: string): number =>
    Math.round(
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(`${name} `))
          ?.split(' ')
          .pop(),
      ) /
        (1 << 20),
    );
  return `${mb('nodejs_heap_size_used_bytes')} / ${mb('nodejs_heap_size_total_bytes')} / ${mb('nodejs_external_memory_bytes')}`;
}

export async function runFuzzBench(): Promise<string> {
  const cluster = await startFuzzCluster({
    NOON_CALLS_PER_SECOND: '1000000',
    NOON_MAX_IN_FLIGHT: '100000',
    NOON_LOGIN_ATTEMPTS_PER_IP: '1000000',
    NOON_HANDSHAKE_TIMEOUT_MS: '1000',
    NOON_MAX_CONNECTIONS_PER_IP: '300',
    NOON_LOG_LEVEL: 'error',
  });
  try {
    const player = cluster.instances.find((i) => i.role === 'player');
    (await cluster.register('bench-good', 'fuzz-password-1')).close();
    const heapBefore = await heapOf(cluster.metricsOf('broker'));
    let last = 0;
    const r = await runFuzz(
      {
        brokerTcp: cluster.brokerTcp,
        pid: cluster.brokerPid,
        serviceRouter: player?.endpoints.router
          ? { endpoint: player.endpoints.router, ...(player.curveKey !== undefined && { curveKey: player.curveKey }) }
          : undefined,
        yellowRouter: cluster.yellow,
        curve: cluster.brokerKeys,
      },
      {
        frames: FRAMES,
        connections: 16,
        framesPerSecond: FRAMES_PER_SECOND,
        zmqFrames: 50_000,
        slowloris: 500,
        connectionFlood: 600,
        seed: 7,
        username: 'bench-good',
        password: 'fuzz-password-1',
        onProgress: (n) => {
          if (n - last >= 100_000) {
            last = n;
            process.stderr.write(`  fuzz: ${n.toLocaleString('en-US')} frames\n`);
          }
        },
      },
    );
    // A measurement interval, not a wait for something: how far the RSS comes back on its own.
    await new Promise<void>((res) => setTimeout(res, SETTLE_MS));
    const settled = rssMb(cluster.brokerPid);
    const heapAfter = await heapOf(cluster.metricsOf('broker'));
    const alive = r.brokerAlive && isAlive(cluster.brokerPid);
    const ratio = r.baseline.p99Ms > 0 ? r.during.p99Ms / r.baseline.p99Ms : NaN;
    const routed = Object.entries(r.routed)
      .map(([service, n]) => `${service} ${n.toLocaleString('en-US')}`)
      .join(', ');
    return [
      '### Hostile input (bench/fuzz.ts)',
      '',
      `${r.framesSent.toLocaleString('en-US')} mutated client frames in ${r.frameFloodSeconds.toFixed(1)} s (paced at most ${FRAMES_PER_SECOND.toLocaleString('en-US')}/s): ${(r.framesSent - r.closingFrames).toLocaleString('en-US')} with an intact header over ${r.connectionsOpened} logged-in connections (${routed}), ${r.closingFrames.toLocaleString('en-US')} that get a connection closed, each on a connection of its own; ${r.zmqFramesSent.toLocaleString('en-US')} ZeroMQ frames at a service ROUTER and Yellow (with a broker key); 500 slowloris connections (${r.slowlorisClosedByBroker} closed by the broker); a flood of 600 connections from one address (${r.floodAccepted} kept, cap 300).`,
      '',
      '| | value |',
      '| --- | ---: |',
      `| crashes (broker process) | ${alive ? 0 : 1} |`,
      `| broker RSS before / after the frames / after everything / ${SETTLE_MS / 1000} s later (MB) | ${r.rssMb.before} / ${r.rssMb.afterFrames} / ${r.rssMb.after} / ${settled} |`,
      `| broker V8 heap used / heap allocated / external memory, before → ${SETTLE_MS / 1000} s after (MB) | ${heapBefore} → ${heapAfter} |`,
      `| good client: calls, errors (baseline) | ${r.baseline.calls}, ${r.baseline.errors} |`,
      `| good client: calls, errors (during the frame flood) | ${r.during.calls}, ${r.during.errors} |`,
      `| good client: calls, errors (ZeroMQ, slowloris, connection flood) | ${r.rest.calls}, ${r.rest.errors} |`,
      `| broker CPU during the frame flood: s, µs per message (flood frames and good calls) | ${r.brokerCpuSeconds}, ${Math.round((r.brokerCpuSeconds * 1e6) / (r.framesSent + r.during.calls))} |`,
      `| good client p99: baseline → during the frame flood (ratio) | ${r.baseline.p99Ms} ms → ${r.during.p99Ms} ms (${ratio.toFixed(2)}×) |`,
      '',
    ].join('\n');
  } finally {
    await cluster.stop();
  }
}

if (require.main === module) runAsMain(runFuzzBench);
