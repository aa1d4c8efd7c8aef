/**
 * Upkeep of durable duels, on every duel instance, every interval:
 * - drained (by an operator or its own stop), the instance lets go of its unfinished duels, so
 *   the next call for each lands on another instance, which takes it over from Postgres;
 * - otherwise it takes over the unfinished duels nobody live holds — released, or held by an
 *   instance that left the cluster — of which it is the rendezvous owner, so a duel whose players
 *   are both silent still times out and settles;
 * - pairings of the matchmaking queue whose matchmaker is gone wait again, and finished duels
 *   kept for late reads are removed.
 */
import type { Db } from '../../shared/data/sql';
import type { Logger } from '../../shared/log';
import type { ServiceEnv } from '../../rpc/api';
import { purgeFinished, unheldGames } from './games';
import type { MatchQueue } from './queue';
import type { DuelTable } from './table';

/** Duels one instance looks at per pass. */
const BATCH = 50;

export interface KeeperOptions {
  intervalMs: number;
  keepFinishedMs: number;
}

export class DuelKeeper {
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private wasDraining = false;
  private failing = false;

  constructor(
    private readonly env: ServiceEnv,
    private readonly db: Db,
    private readonly table: DuelTable,
    private readonly queue: MatchQueue,
    private readonly opts: KeeperOptions,
    private readonly log: Logger,
  ) {}

  /** Whether Yellow lists this instance as draining. */
  draining(): boolean {
    const me = this.env.instanceId;
    return this.env.directory
      .instances({ role: this.env.role, includeDraining: true })
      .some((r) => r.instanceId === me && r.draining);
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.tick(), this.opts.intervalMs);
    this.timer.unref();
    void this.tick();
  }

  /** Stops the passes and lets go of every unfinished duel (the instance is stopping). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const n = await this.table.releaseAll();
    if (n > 0) this.log.info({ duels: n }, 'stopping: duels released for another instance to take over');
  }

  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const draining = this.draining();
      if (draining && !this.wasDraining) {
        const n = await this.table.releaseAll();
        this.log.info({ duels: n }, 'draining: duels released for another instance to take over');
      }
      this.wasDraining = draining;
      if (!draining) await this.takeOrphans();
      await purgeFinished(this.db, this.opts.keepFinishedMs);
      if (this.failing) this.log.info('duel upkeep is working again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.log.warn({ err: (err as Error).message }, 'duel upkeep failed; retrying every interval');
      this.failing = true;
    } finally {
      this.ticking = false;
    }
  }

  private live(): string[] {
    const peers = this.env.directory.instances({ role: this.env.role }).map((r) => r.instanceId);
    return [...new Set([this.env.instanceId, ...peers])];
  }

  private async takeOrphans(): Promise<void> {
    const live = this.live();
    const me = this.env.instanceId;
    for (const g of await unheldGames(this.db, live, BATCH)) {
      if (this.env.ownerOf(g.id) !== me) continue;
      await this.table
        .claim(g.id, g.holder)
        .catch((err: unknown) => this.log.warn({ err: (err as Error).message, duel: g.id }, 'takeover failed'));
    }
    const back = await this.queue.recover(new Set(live), Date.now());
    if (back.length > 0) this.log.info({ users: back }, 'pairings of a gone matchmaker: back in the queue');
  }
}
