/**
 * Issue 12 (keys): what CURVE costs on the internal plane. Service-to-service calls
 * (ServiceCaller + serviceClients → `Leaderboard:top` on the fixture service in a child process)
 * once over plaintext and once with role keys (the caller holds a service key, the server checks
 * it through ZAP at the handshake and encrypts every message), at 1 and 64 calls in flight, in the
 * same run. The ratio is CURVE throughput over plaintext throughput.
 *
 *   node --import tsx bench/curve.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../shared/config';
import { stopZap, type CurveKeys } from '../shared/curve';
import { internalKeysFor } from '../shared/internal-keys';
import { ensureKeys } from '../shared/keyring';
import { silentLogger } from '../shared/log';
import { ServiceCaller } from '../rpc/caller';
import { serviceClients } from '../rpc/clients';
import { Links } from '../rpc/links';
import { YellowClient } from '../yellow/client';
import { closedLoop, timings, type LoadResult } from './lib/load';
import { spawnReady, stopChild, waitFor, type Child } from './lib/procs';
import { progress, ratioTable, resultTable, type Ratio, type Row } from './lib/table';
import { runAsMain } from './lib/main';

const LEVELS = [1, 64];
const HEARTBEAT_MS = '250';

interface Plane {
  label: string;
  top(): Promise<unknown>;
  server: Child;
  close(): Promise<void>;
}

/** A Yellow and a Leaderboard child, and a caller in this process, with or without keys. */
async function plane(label: string, keyDir: string | undefined): Promise<Plane> {
  const keyEnv: Record<string, string> = keyDir ? { NOON_INTERNAL_KEYS: keyDir } : {};
  const children: Child[] = [];
  const yellow = await spawnReady(`yellow-${label}`, 'test/support/yellow-proc.ts', {
    NOON_YELLOW_PORT: '0',
    NOON_HEARTBEAT_MS: HEARTBEAT_MS,
    ...keyEnv,
  });
  children.push(yellow);
  const lb = await spawnReady(`leaderboard-${label}`, 'test/support/lb-service.ts', {
    NOON_YELLOW: String(yellow.ready.router),
    NOON_HEARTBEAT_MS: HEARTBEAT_MS,
    ...keyEnv,
  });
  children.push(lb);
  const curve: CurveKeys | undefined = keyDir
    ? internalKeysFor(loadConfig({ internalKeys: keyDir }, {}), 'player')
    : undefined;
  const logger = silentLogger();
  const yellowClient = new YellowClient({
    endpoints: [String(yellow.ready.router)],
    heartbeatMs: Number(HEARTBEAT_MS),
    logger,
    ...(curve ? { curve } : {}),
  });
  const directory = await yellowClient.watch();
  const identity = `player-${process.pid}-${label}`;
  const links = new Links({ identity, logger, maxQueued: 100_000, maxPayload: 1 << 20, ...(curve ? { curve } : {}) });
  const clients = serviceClients(new ServiceCaller(directory, links), () => ({
    sessionId: 's-bench',
    userId: 'u-bench',
    traceId: 'bench-trace-0001',
    via: identity,
    deadline: Date.now() + 5000,
  }));
  await waitFor(`the ${label} Leaderboard in the directory`, async () =>
    directory.instances({ thriftService: 'Leaderboard' }).length > 0 ? true : undefined,
  );
  if ((await clients.leaderboard.top('bench', 1)).length !== 1) throw new Error(`${label}: Leaderboard:top failed`);
  return {
    label,
    top: () => clients.leaderboard.top('bench', 1),
    server: lb,
    close: async () => {
      links.close();
      await yellowClient.stop();
      await Promise.all(children.reverse().map((c) => stopChild(c)));
    },
  };
}

export async function runCurve(): Promise<string> {
  const { warmupMs, durationMs } = timings();
  const keyDir = mkdtempSync(join(tmpdir(), 'noon-bench-keys-'));
  ensureKeys(keyDir, ['yellow', 'broker', 'brokerlist', 'operator', 'leaderboard', 'player']);
  const rows: Row[] = [];
  const ratios: Ratio[] = [];
  const planes: Plane[] = [];
  try {
    const plain = await plane('plaintext', undefined);
    planes.push(plain);
    const curve = await plane('curve', keyDir);
    planes.push(curve);
    // Warm both paths (this process's caller is JIT-compiled on first use), unmeasured.
    for (const p of [plain, curve])
      await closedLoop({ inFlight: 64, warmupMs: 0, durationMs: 2 * warmupMs, call: async () => void (await p.top()) });
    for (const inFlight of LEVELS) {
      const measure = async (p: Plane): Promise<LoadResult> => {
        const result = await closedLoop({
          inFlight,
          warmupMs,
          durationMs,
          call: async () => void (await p.top()),
          cpu: { client: process.pid, server: p.server.pid },
        });
        const label = `${p.label}: caller → Leaderboard:top`;
        progress(`${label} @${inFlight}`, result);
        rows.push({ label, result });
        return result;
      };
      // ABBA order, so a machine whose load drifts during the run favours neither side.
      const plain1 = await measure(plain);
      const curve1 = await measure(curve);
      const curve2 = await measure(curve);
      const plain2 = await measure(plain);
      const mean = (x: LoadResult, y: LoadResult): LoadResult => ({ ...x, rate: (x.rate + y.rate) / 2 });
      ratios.push({
        level: `${inFlight} in flight (CURVE vs plaintext, mean of 2)`,
        noon: mean(curve1, curve2),
        raw: mean(plain1, plain2),
      });
    }
  } finally {
    for (const p of planes.reverse()) await p.close();
    stopZap();
    rmSync(keyDir, { recursive: true, force: true });
  }
  return [
    '### The internal plane with and without CURVE (keys)',
    '',
    `Closed loop, ${durationMs / 1000} s per row after ${warmupMs / 1000} s warm-up. Client = this process (a service key); server = one Leaderboard child. In the ratio table "noon" is CURVE, "raw" is plaintext.`,
    '',
    resultTable(rows),
    '',
    ratioTable('level', ratios),
  ].join('\n');
}

if (require.main === module) runAsMain(runCurve);
