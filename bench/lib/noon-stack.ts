/**
 * The stack the broker benches run against: a Yellow, the fixture Leaderboard and a broker, all
 * from the code under `root`, with the limits a bench must not hit lifted.
 */
import { ROOT, spawnReady, waitFor, type Child } from './procs';
import { SlotClient } from './thrift-client';

export const HEARTBEAT_MS = '250';

/** Limits a bench must not hit (rate, in-flight, deadlines); everything else is the default. */
export const BROKER_ENV = {
  NOON_BROKER_PORT: '0',
  NOON_BROKER_WS_PORT: '0',
  NOON_METRICS_PORT: '0',
  NOON_CALLS_PER_SECOND: '1000000',
  NOON_MAX_IN_FLIGHT: '100000',
  NOON_OUTBOUND_QUEUE: '100000',
  NOON_HANDSHAKE_TIMEOUT_MS: '600000',
  NOON_LOGIN_TIMEOUT_MS: '600000',
  NOON_IDLE_TIMEOUT_MS: '600000',
};

export interface NoonStack {
  broker: Child;
  lb: Child;
  tcp: string;
}

/** Starts the stack (its processes pushed to `children`, for the caller to stop) once it routes. */
export async function startNoonStack(
  children: Child[],
  root = ROOT,
  brokerEnv: Record<string, string> = {},
): Promise<NoonStack> {
  const spawnAt = (name: string, script: string, env: Record<string, string>): Promise<Child> =>
    spawnReady(name, script, env, 60_000, root);
  const yellow = await spawnAt('yellow', 'test/support/yellow-proc.ts', {
    NOON_YELLOW_PORT: '0',
    NOON_HEARTBEAT_MS: HEARTBEAT_MS,
  });
  children.push(yellow);
  const env = { NOON_YELLOW: String(yellow.ready.router), NOON_HEARTBEAT_MS: HEARTBEAT_MS };
  const lb = await spawnAt('leaderboard', 'test/support/lb-service.ts', env);
  children.push(lb);
  const broker = await spawnAt('broker', 'bench/procs/broker.ts', { ...env, ...BROKER_ENV, ...brokerEnv });
  children.push(broker);
  const tcp = String(broker.ready.tcp);
  // The broker learns the route from Yellow; an unknown method closes a fresh connection, so each probe opens its own.
  await waitFor('the broker to route Leaderboard:top', async () => {
    const c = await SlotClient.open(tcp, 1, 1);
    try {
      await c.call(0);
      return true;
    } finally {
      c.close();
    }
  });
  return { broker, lb, tcp };
}
