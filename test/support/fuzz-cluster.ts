/**
 * The cluster the hostile-input runs attack: `noon up --processes` on a Postgres database of its
 * own, so the broker is a process alone (its RSS is the broker's, not the whole cluster's) and the
 * internal plane runs with the per-role CURVE keys it has by default. Shared by
 * test/integration/fuzz.test.ts and bench/fuzz.ts.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { loadConfig } from '../../shared/config';
import type { CurveKeys } from '../../shared/curve';
import { internalKeysFor } from '../../shared/internal-keys';
import { NoonClient } from '../../client';
import { cleanEnv, clusterFlags, isAlive, NoonProc, runNoon, tempDir } from './cli-proc';
import { pgUrlFor } from './services';
import { createTestDatabase, dropTestDatabase } from './cluster-data';

export interface FuzzInstance {
  role: string;
  pid: number;
  curveKey?: string;
  endpoints: { router?: string; metrics?: string };
}

export interface FuzzCluster {
  brokerTcp: string;
  brokerlist: string;
  yellow: string;
  /** the broker's own process (a child of the supervisor) */
  brokerPid: number;
  instances: FuzzInstance[];
  /** the broker role's keys, from the cluster's key directory */
  brokerKeys: CurveKeys;
  metricsOf(role: string): string;
  /** registers an account over the BrokerList, as a new player would */
  register(username: string, password: string): Promise<NoonClient>;
  stop(): Promise<number | null>;
}

export async function startFuzzCluster(env: Record<string, string>): Promise<FuzzCluster> {
  const database = `noon_fuzz_${randomBytes(5).toString('hex')}`;
  await createTestDatabase(database);
  const data = tempDir('noon-fuzz-');
  const up = new NoonProc(
    ['up', '--processes', '--pg-url', pgUrlFor(database), ...clusterFlags(data.dir)],
    cleanEnv(env),
  );
  let pids: number[] = [];
  const stop = async (): Promise<number | null> => {
    const exit = await up.stop('SIGINT');
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    data.remove();
    await dropTestDatabase(database);
    return exit.code;
  };
  try {
    const ready = await up.waitFor('ready line', () => up.jsonLine({ ready: 'up' }), 120_000);
    pids = (ready.pids as number[] | undefined) ?? [];
    const keyDir = join(data.dir, 'keys');
    const yellow = String(ready.yellow);
    // An operator command runs with the operator key of the cluster's key directory.
    const listed = await runNoon(['yellow', 'instances', '--json', '--yellow', yellow, '--internal-keys', keyDir]);
    if (listed.code !== 0) throw new Error(`noon yellow instances failed: ${listed.stderr}`);
    const instances = JSON.parse(listed.stdout) as FuzzInstance[];
    const broker = instances.find((i) => i.role === 'broker');
    if (!broker) throw new Error('no broker registered in Yellow');
    const brokerlist = String(ready.brokerlist);
    return {
      brokerTcp: String((ready.broker as { tcp: string }).tcp),
      brokerlist,
      yellow,
      brokerPid: broker.pid,
      instances,
      brokerKeys: internalKeysFor(loadConfig({ internalKeys: keyDir }, {}), 'broker') as CurveKeys,
      metricsOf: (role) => String(instances.find((i) => i.role === role)?.endpoints.metrics),
      register: async (username, password) => {
        const c = await NoonClient.viaBrokerList(brokerlist, { reconnect: false });
        await c.sso.register(username, password);
        return c;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * What a service refused as bad input: calls answered with an error before or by its handler
 * (a mutated message fails to decode) plus requests dropped before any handler (text a database
 * cannot store, envelopes that do not decode, internal methods).
 */
export async function refusedInput(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  let n = 0;
  for (const line of text.split('\n'))
    if (
      (line.startsWith('noon_calls_total{') && line.includes('outcome="error"')) ||
      line.startsWith('noon_dropped_total{')
    )
      n += Number(line.split(' ').pop());
  return n;
}
