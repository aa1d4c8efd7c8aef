// The hot room of bench/rooms.ts, in a process of its own so that its CPU is not the measuring
// process's: FLOOD_IN_FLIGHT says (ServiceCaller, closed loop) into FLOOD_ROOM from the ready line
// until SIGTERM. Each SIGUSR2 prints one JSON line of counts so far: {"ok","busy","other","atMs"};
// the parent takes one at the start and one at the end of its window. BUSY answers are retried at
// once: the offered rate is whatever the owner and this process can turn around. With FLOOD_RATE,
// says go out open loop at that rate instead (at most FLOOD_IN_FLIGHT unanswered; a send past it
// is counted as `skipped`), each on a fixed schedule whatever the answers are.
import { isNoonError } from '../../shared/errors';
import { silentLogger } from '../../shared/log';
import { errorCode } from '../../client/errors';
import { ServiceCaller } from '../../rpc/caller';
import { serviceClients } from '../../rpc/clients';
import { Links } from '../../rpc/links';
import { YellowClient } from '../../yellow/client';
import { waitFor } from '../lib/procs';

async function main(): Promise<void> {
  const room = process.env.FLOOD_ROOM ?? 'hot';
  const inFlight = Number(process.env.FLOOD_IN_FLIGHT ?? 2560);
  const logger = silentLogger();
  const yellow = new YellowClient({ endpoints: [String(process.env.NOON_YELLOW)], heartbeatMs: 1000, logger });
  const directory = await yellow.watch();
  const identity = `flood-${process.pid}`;
  const links = new Links({ identity, logger, maxQueued: 100_000, maxPayload: 4 << 20 });
  const caller = new ServiceCaller(directory, links);
  const chat = serviceClients(caller, () => ({
    sessionId: 's-flood',
    userId: 'u-flood',
    username: 'flood',
    traceId: 'flood-trace-0001',
    via: identity,
    deadline: Date.now() + 10_000,
  })).chat;
  await waitFor('the chat instance in the directory', async () =>
    directory.instances({ thriftService: 'Chat' }).length > 0 ? true : undefined,
  );
  const counts = { ok: 0, busy: 0, other: 0, skipped: 0 };
  let stopping = false;
  const rate = process.env.FLOOD_RATE === undefined ? undefined : Number(process.env.FLOOD_RATE);
  let unanswered = 0;
  const count = (err: unknown): void => {
    if ((isNoonError(err) ? err.code : errorCode(err)) === 'BUSY') counts.busy++;
    else counts.other++;
  };
  /** One say every 1/rate s, in 10 ms ticks, not waiting for answers. */
  const openLoop = async (perSecond: number): Promise<void> => {
    const start = Date.now();
    let sent = 0;
    while (!stopping) {
      const due = Math.floor(((Date.now() - start) * perSecond) / 1000);
      for (; sent < due; sent++) {
        if (unanswered >= inFlight) {
          counts.skipped++;
          continue;
        }
        unanswered++;
        chat.say(room, 'flood').then(
          () => {
            unanswered--;
            counts.ok++;
          },
          (err: unknown) => {
            unanswered--;
            count(err);
          },
        );
      }
      await new Promise<void>((r) => setTimeout(r, 10));
    }
  };
  const worker = async (): Promise<void> => {
    while (!stopping) {
      try {
        await chat.say(room, 'flood');
        counts.ok++;
      } catch (err) {
        // the owner's refusal arrives as a NoonError here (ServiceCaller), as TApplicationException via a broker
        count(err);
        // a refusal comes back at once: let timers and I/O run between retries
        await new Promise<void>((r) => setImmediate(r));
      }
    }
  };
  const workers = rate === undefined ? Array.from({ length: inFlight }, () => worker()) : [openLoop(rate)];
  process.on('SIGUSR2', () => process.stdout.write(`${JSON.stringify({ ...counts, atMs: Date.now() })}\n`));
  process.stdout.write(
    `${JSON.stringify({ ready: 'room-flood', room, inFlight, ...(rate !== undefined && { rate }) })}\n`,
  );
  process.once('SIGTERM', () => {
    stopping = true;
    setTimeout(() => process.exit(0), 2000).unref();
    void Promise.race([Promise.all(workers), new Promise((r) => setTimeout(r, 1000))])
      .then(() => {
        links.close();
        return yellow.stop();
      })
      .finally(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`room-flood failed: ${String(err)}\n`);
  process.exit(1);
});
