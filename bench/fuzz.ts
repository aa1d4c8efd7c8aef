/**
 * The hostile-input flood at full size: a million mutated client frames (and ZeroMQ garbage,
 * slowloris, a connection flood) against `noon up`, while a good client calls. Reports frames,
 * crashes, the broker process's RSS before, right after and 20 s after the flood, and the good
 * client's calls, errors and p99 beside its own baseline from the same run (targets: 0 crashes,
 * 0 errors, p99 ≤ 2× baseline, RSS back within 20 % of its start).
 *
 *   node --import tsx bench/fuzz.ts      (npm run bench:fuzz; BENCH_FUZZ_FRAMES to change the count)
 */
import { NoonClient } from '../client';
import { cleanEnv, clusterFlags, NoonProc, runNoon, tempDir } from '../test/support/cli-proc';
import { rssMb, runFuzz } from '../test/support/fuzz-run';
import { runAsMain } from './lib/main';

const FRAMES = Number(process.env.BENCH_FUZZ_FRAMES ?? 1_000_000);
const SETTLE_MS = 20_000;

export async function runFuzzBench(): Promise<string> {
  const data = tempDir('noon-bench-fuzz-');
  const env = cleanEnv({
    NOON_CALLS_PER_SECOND: '1000000',
    NOON_MAX_IN_FLIGHT: '100000',
    NOON_HANDSHAKE_TIMEOUT_MS: '1000',
    NOON_MAX_CONNECTIONS_PER_IP: '300',
    NOON_LOG_LEVEL: 'error',
  });
  const up = new NoonProc(['up', ...clusterFlags(data.dir)], env);
  try {
    const ready = await up.waitFor('ready line', () => up.jsonLine({ ready: 'up' }), 90_000);
    const yellow = String(ready.yellow);
    const instances = JSON.parse(
      (await runNoon(['yellow', 'instances', '--json', '--yellow', yellow])).stdout,
    ) as Array<{
      role: string;
      endpoints: { router?: string };
    }>;
    const c = await NoonClient.viaBrokerList(String(ready.brokerlist), { reconnect: false });
    await c.sso.register('bench-good', 'fuzz-password-1');
    c.close();
    const started = Date.now();
    let last = 0;
    const r = await runFuzz(
      {
        brokerTcp: String((ready.broker as { tcp: string }).tcp),
        pid: up.pid,
        serviceRouter: instances.find((i) => i.role === 'player')?.endpoints.router,
        yellowRouter: yellow,
      },
      {
        frames: FRAMES,
        connections: 16,
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
    const seconds = (Date.now() - started) / 1000;
    await new Promise<void>((res) => setTimeout(res, SETTLE_MS));
    const settled = rssMb(up.pid);
    const ratio = r.baseline.p99Ms > 0 ? r.during.p99Ms / r.baseline.p99Ms : NaN;
    return [
      '### Hostile input (bench/fuzz.ts)',
      '',
      `${r.framesSent.toLocaleString('en-US')} mutated client frames over ${r.connectionsOpened} connections in ${seconds.toFixed(1)} s, ${r.zmqFramesSent.toLocaleString('en-US')} ZeroMQ frames at a service ROUTER and Yellow, 500 slowloris connections (${r.slowlorisClosedByBroker} closed by the broker), a flood of 600 connections from one address (${r.floodAccepted} kept, cap 300).`,
      '',
      '| | value |',
      '| --- | ---: |',
      `| crashes | ${r.brokerAlive ? 0 : 1} |`,
      `| RSS before / right after / ${SETTLE_MS / 1000} s later (MB) | ${r.rssMb.before} / ${r.rssMb.after} / ${settled} |`,
      `| good client: calls, errors (baseline) | ${r.baseline.calls}, ${r.baseline.errors} |`,
      `| good client: calls, errors (during the flood) | ${r.during.calls}, ${r.during.errors} |`,
      `| good client p99: baseline → during (ratio) | ${r.baseline.p99Ms} ms → ${r.during.p99Ms} ms (${ratio.toFixed(2)}×) |`,
      '',
    ].join('\n');
  } finally {
    await up.stop('SIGINT');
    data.remove();
  }
}

if (require.main === module) runAsMain(runFuzzBench);
