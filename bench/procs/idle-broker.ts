// One broker as its own process for bench/idle-conns.ts, from the code under
// NOON_BENCH_CODE_ROOT (default this checkout; another commit's tree for "before"). On SIGUSR2 it
// runs a full GC and prints one line: {"mem": {heapUsed, external, arrayBuffers, connections}},
// so the bench reads RSS from /proc right after a collection, not between two.
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';

import type * as BrokerModule from '../../roles/broker';
import type * as ConfigModule from '../../shared/config';
import type * as LogModule from '../../shared/log';

const root = process.env.NOON_BENCH_CODE_ROOT ?? join(__dirname, '..', '..');
/* eslint-disable @typescript-eslint/no-require-imports -- the code under test comes from `root` */
const { startBrokerRole } = require(join(root, 'roles', 'broker')) as typeof BrokerModule;
const { loadConfig } = require(join(root, 'shared', 'config')) as typeof ConfigModule;
const { createLogger } = require(join(root, 'shared', 'log')) as typeof LogModule;
/* eslint-enable @typescript-eslint/no-require-imports */

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const cfg = loadConfig({ logLevel: process.env.NOON_LOG_LEVEL ?? 'warn' });
const logger = createLogger({ role: 'broker', instanceId: `broker-${process.pid}`, level: cfg.logLevel });
void startBrokerRole(cfg, logger).then((running) => {
  process.stdout.write(`${JSON.stringify({ ready: 'broker', ...running.ready })}\n`);
  process.on('SIGUSR2', () => {
    gc();
    gc();
    // IDLE_SNAPSHOT_DIR: a heap snapshot at every sample too, to see what a connection holds
    if (process.env.IDLE_SNAPSHOT_DIR)
      writeHeapSnapshot(join(process.env.IDLE_SNAPSHOT_DIR, `${Date.now()}.heapsnapshot`));
    const m = process.memoryUsage();
    const mem = {
      heapUsed: m.heapUsed,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      connections: running.broker.connections,
    };
    process.stdout.write(`${JSON.stringify({ mem })}\n`);
  });
  const stop = (): void => {
    setTimeout(() => process.exit(0), 1500).unref();
    void running.stop().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
});
