// The fixture Leaderboard as its own process, whose `report` is slow (SLOW_MS, default 500) and
// not idempotent: it prints {"started":<board>} when a call begins and {"applied":<board>} when it
// takes effect, so a test knows a call is in flight on this instance and whether it ran. `report`
// is public, so an anonymous client reaches it through a broker. SIGTERM stops it cleanly (exit 0).
import { loadConfig } from '../../shared/config';
import { createLogger } from '../../shared/log';
import { startService } from '../../roles/service';
import { Leaderboard, Pong, RankEntry } from '../../shared/protocol';
import type { ServiceDef } from '../../rpc/api';

const cfg = loadConfig({ logLevel: process.env.NOON_LOG_LEVEL ?? 'warn' });
const logger = createLogger({ role: 'leaderboard', instanceId: `slow-lb-${process.pid}`, level: cfg.logLevel });
const slowMs = Number(process.env.SLOW_MS ?? 500);
const line = (v: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(v)}\n`);

function slowLeaderboard(instanceId: string): ServiceDef<Leaderboard.IHandler> {
  return {
    role: 'leaderboard',
    thriftService: 'Leaderboard',
    processor: Leaderboard.Processor,
    stateful: false,
    publicMethods: ['ping', 'top', 'report'],
    idempotentMethods: ['top', 'myRank', 'around', 'ping'],
    handlers: {
      top: (board, count) => [new RankEntry({ userId: instanceId, username: board, score: count, rank: 1 })],
      myRank: (board, ctx) => new RankEntry({ userId: ctx.userId, username: board, score: 0, rank: 1 }),
      around: () => [],
      report: async (board) => {
        line({ started: board });
        await new Promise((r) => setTimeout(r, slowMs));
        line({ applied: board });
        return new RankEntry({ userId: instanceId, username: board, score: 1, rank: 0 });
      },
      ping: () => new Pong({ instance: instanceId, serviceName: 'Leaderboard', serverTimeMs: Date.now() }),
    },
  };
}

void startService('leaderboard', (env) => slowLeaderboard(env.instanceId), { cfg, logger }).then((svc) => {
  line({ ready: 'leaderboard', instanceId: svc.env.instanceId, ...svc.endpoints });
  const stop = (): void =>
    void svc.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
});
