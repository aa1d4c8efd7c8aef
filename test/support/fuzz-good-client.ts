/**
 * The well-behaved client of the hostile-input runs, in a process of its own so that its latency
 * is the cluster's, not that of the flooder's event loop. Logs in, warms up, makes FUZZ_BASELINE getProfile
 * calls alone and prints `{"baseline": …}`, then keeps calling: SIGUSR2 ends the flood window
 * (prints `{"during": …}`), SIGTERM the rest (prints `{"rest": …}`) and exits.
 *
 *   FUZZ_BROKER=host:port FUZZ_USER=… FUZZ_PASS=… node --import tsx test/support/fuzz-good-client.ts
 */
import { performance } from 'node:perf_hooks';
import { NoonClient } from '../../client';

export interface GoodClientStats {
  calls: number;
  errors: number;
  p99Ms: number;
  errorSamples: string[];
}

function p99(samples: number[]): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  return Number((sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] as number).toFixed(2));
}

/** getProfile in a closed loop until `stop()` (or `maxCalls`), every latency and error kept. */
export function goodLoop(
  client: NoonClient,
  maxCalls = Infinity,
): { done: Promise<void>; stop(): Promise<GoodClientStats> } {
  const lat: number[] = [];
  const errors: string[] = [];
  let running = true;
  const done = (async () => {
    while (running && lat.length + errors.length < maxCalls) {
      const t = performance.now();
      try {
        await client.player.getProfile();
        lat.push(performance.now() - t);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
  })();
  return {
    done,
    stop: async () => {
      running = false;
      await done;
      return {
        calls: lat.length + errors.length,
        errors: errors.length,
        p99Ms: p99(lat),
        errorSamples: errors.slice(0, 5),
      };
    },
  };
}

const WARM_UP_CALLS = 300;

async function main(): Promise<void> {
  const client = await NoonClient.connect({ tcp: String(process.env.FUZZ_BROKER) }, { reconnect: true });
  await client.sso.login(String(process.env.FUZZ_USER), String(process.env.FUZZ_PASS));
  // Warm-up calls are not counted: the baseline is a warm client against an idle cluster.
  await goodLoop(client, WARM_UP_CALLS).done;
  const base = goodLoop(client, Number(process.env.FUZZ_BASELINE ?? 500));
  await base.done;
  process.stdout.write(`${JSON.stringify({ baseline: await base.stop() })}\n`);
  const loop = goodLoop(client);
  let rest: ReturnType<typeof goodLoop> | undefined;
  process.once('SIGUSR2', () => {
    void loop.stop().then((during) => {
      process.stdout.write(`${JSON.stringify({ during })}\n`);
      rest = goodLoop(client);
    });
  });
  process.once('SIGTERM', () => {
    void (rest ?? loop).stop().then((stats) => {
      process.stdout.write(`${JSON.stringify({ rest: stats })}\n`);
      client.close();
      process.exit(0);
    });
  });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`good client failed: ${String(err)}\n`);
    process.exit(1);
  });
}
