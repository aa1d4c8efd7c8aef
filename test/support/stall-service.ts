// The fixture Leaderboard as its own process, with a test-only hook: SIGUSR2 blocks its main event
// loop for STALL_MS (default 2000) ms of busy work, printing {"stall":"start"} and {"stall":"end"}
// around it. Its heartbeats come from their own thread, so the block must not make it `down`; the
// ready line waits for that thread.
import { loadConfig } from '../../shared/config';
import { createLogger } from '../../shared/log';
import { MemoryKv } from '../../shared/data/memory-kv';
import type { Db } from '../../shared/data/sql';
import { startService } from '../../roles/service';
import { BeatThread } from '../../yellow/beat-thread';
import { lbModule } from './lb-module';

const cfg = loadConfig({ logLevel: process.env.NOON_LOG_LEVEL ?? 'warn' });
const logger = createLogger({ role: 'leaderboard', instanceId: `lb-${process.pid}`, level: cfg.logLevel });
const deps = { db: undefined as unknown as Db, kv: new MemoryKv() };
const stallMs = Number(process.env.STALL_MS ?? 2000);

function blockMainLoop(): void {
  process.stdout.write(`${JSON.stringify({ stall: 'start' })}\n`);
  const end = Date.now() + stallMs;
  let spin = 0;
  while (Date.now() < end) spin = (spin + 1) % 1_000_003;
  process.stdout.write(`${JSON.stringify({ stall: 'end', spin: spin >= 0 })}\n`);
}

void startService('leaderboard', (env) => lbModule.build(env, deps), { cfg, logger }).then(async (svc) => {
  // Until its heartbeat thread runs (it boots in a second or more on a loaded machine), a process
  // beats from its main loop like before: the test blocks only once the thread is there.
  if (!(await BeatThread.whenRunning())) throw new Error('the heartbeat thread did not start');
  process.on('SIGUSR2', blockMainLoop);
  process.stdout.write(
    `${JSON.stringify({ ready: 'leaderboard', instanceId: svc.env.instanceId, ...svc.endpoints })}\n`,
  );
  const stop = (): void => void svc.stop().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
});
