// A Chat service whose `say` does no I/O, for bench/retries.ts: the call path and the reply cache
// are all that is measured. NOON_REDIS set: outcomes are shared through Redis (keys under
// BENCH_KEY_PREFIX); unset: the cache is this process's own. No Yellow: the bench calls the
// ROUTER directly. Ready line: {"ready":"say","router":...}. Stops on SIGTERM.
import { loadConfig } from '../../shared/config';
import { openKv } from '../../shared/data/store';
import type { Kv } from '../../shared/data/kv';
import { createLogger } from '../../shared/log';
import { Chat, ChatMessage, Pong, RoomSnapshot } from '../../shared/protocol';
import { Directory } from '../../yellow/directory';
import { startServiceRuntime } from '../../rpc/service-runtime';
import type { ServiceDef } from '../../rpc/api';

async function main(): Promise<void> {
  const cfg = loadConfig({ logLevel: process.env.NOON_LOG_LEVEL ?? 'warn' });
  const logger = createLogger({ role: 'chat', instanceId: `say-${process.pid}`, level: cfg.logLevel });
  let kv: Kv | undefined;
  if (cfg.redis.length > 0) kv = await openKv({ redis: cfg.redis, keyPrefix: process.env.BENCH_KEY_PREFIX, logger });
  let seq = 0;
  const def: ServiceDef<Chat.IHandler> = {
    role: 'chat',
    thriftService: 'Chat',
    processor: Chat.Processor,
    stateful: false,
    idempotentMethods: ['ping'],
    handlers: {
      join: (roomId) => new RoomSnapshot({ roomId, lastSeq: 0, recent: [] }),
      leave: () => undefined,
      say: (roomId, text, ctx) =>
        new ChatMessage({ roomId, seq: ++seq, userId: ctx.userId, username: ctx.username, text, sentAtMs: 0 }),
      history: () => [],
      ping: () => new Pong({ instance: `say-${process.pid}` }),
    },
  };
  const runtime = await startServiceRuntime(() => def, {
    role: 'chat',
    instanceId: `say-${process.pid}`,
    logger,
    cfg,
    directory: new Directory(),
    ...(kv ? { kv } : {}),
  });
  process.stdout.write(`${JSON.stringify({ ready: 'say', router: runtime.endpoints.router, shared: !!kv })}\n`);
  const stop = (): void => {
    setTimeout(() => process.exit(0), 2000).unref();
    void runtime
      .stop()
      .then(() => kv?.close())
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
