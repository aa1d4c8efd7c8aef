// The services of bench/rooms.ts in one process: the real chat service (NOON_PG_URL, NOON_REDIS)
// and, with BENCH_FAKE_SSO=1, the test fixture sso (login = password "pw-<name>") so thousands of
// members log in without scrypt or a player service. One ready line, exits on SIGTERM.
import { loadConfig } from '../../shared/config';
import { createLogger } from '../../shared/log';
import { startService, startServiceRole } from '../../roles/service';
import { chatModule } from '../../services/chat';
import { fakeSso } from '../../test/support/broker-fakes';

async function main(): Promise<void> {
  const cfg = loadConfig({ logLevel: process.env.NOON_LOG_LEVEL ?? 'warn' });
  const logger = createLogger({ role: 'chat', instanceId: `chat-${process.pid}`, level: cfg.logLevel });
  const stops: Array<() => Promise<void>> = [];
  const chat = await startServiceRole(chatModule, cfg, logger);
  stops.push(() => chat.stop());
  if (process.env.BENCH_FAKE_SSO === '1') {
    const sso = await startService('sso', (env) => fakeSso.build(env, {} as never), { cfg, logger });
    stops.push(() => sso.stop());
  }
  process.stdout.write(`${JSON.stringify({ ready: 'rooms-services', ...chat.ready })}\n`);
  const stop = (): void => {
    setTimeout(() => process.exit(0), 3000).unref();
    void Promise.all(stops.map((s) => s())).finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`rooms-services failed: ${String(err)}\n`);
  process.exit(1);
});
