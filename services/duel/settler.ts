/**
 * The settler: runs on every duel instance and works the settlement outbox (settlements.ts) until
 * every row is done. It never gives up: a failed step (the player or leaderboard service down, the
 * database away) is tried again after a backoff that doubles up to `settleMaxBackoffMs`, for as
 * long as it takes. Rows are claimed one instance at a time, so a row written by an instance that
 * then died is finished by another; and each step is idempotent by duel id (the escrow's state,
 * the leaderboard's report key), so a step repeated after a crash pays or counts nothing twice.
 *
 * Steps of a pending row: the escrow (`settleEscrow` to the winner, or `refundEscrow` to both) and
 * the leaderboard report of a win. They are independent: a leaderboard outage does not hold up a
 * payout.
 *
 * It also finds duels lost with their instance: an 'open' row (matched, no result) older than
 * `orphanAfterMs` whose instance has left the cluster — or is this instance, which no longer
 * holds that duel — is turned into a refund.
 */
import Int64 from 'node-int64';
import type { Db } from '../../shared/data/sql';
import type { Logger } from '../../shared/log';
import type { ServiceClients, ServiceEnv } from '../../rpc/api';
import { claimDue, claimOne, recordAttempt, staleOpen, voidOpen, type Settlement } from './settlements';

export const LEADERBOARD = 'duels';

export interface SettlerOptions {
  /** how often each instance looks for due settlements and lost duels, ms */
  settleIntervalMs: number;
  /** the wait after a first failed attempt, ms; it doubles with every attempt … */
  settleBackoffMs: number;
  /** … up to this */
  settleMaxBackoffMs: number;
  /** how long a claim keeps other instances off a row: more than one attempt can take, ms */
  settleLeaseMs: number;
  /** a matched duel with no result this old, whose instance is gone, is refunded, ms */
  orphanAfterMs: number;
}

/** Rows one instance works at a time. */
const BATCH = 20;

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}

export class Settler {
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private failing = false;
  private readonly working = new Set<string>();

  constructor(
    private readonly env: ServiceEnv,
    private readonly db: Db,
    private readonly opts: SettlerOptions,
    /** whether this instance holds the live duel */
    private readonly holds: (duelId: string) => boolean,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.tick(), this.opts.settleIntervalMs);
    // Pending rows are durable: a stopping process may leave them to the next instance.
    this.timer.unref();
    void this.tick();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Works one row at once (the instance that just wrote it), rather than at the next tick. */
  kick(duelId: string): void {
    void this.claimAndWork(() => claimOne(this.db, this.env.instanceId, this.opts.settleLeaseMs, duelId)).catch(
      (err: unknown) =>
        this.log.warn({ err: messageOf(err), duel: duelId }, 'settlement claim failed; the settler retries'),
    );
  }

  /** One pass: lost duels become refunds, then every due row is claimed and worked. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.sweep();
      const live = this.live();
      await this.claimAndWork(() => claimDue(this.db, this.env.instanceId, this.opts.settleLeaseMs, live, BATCH));
      if (this.failing) this.log.info('settler is working again');
      this.failing = false;
    } catch (err) {
      // Logged once per outage; the next tick tries again.
      if (!this.failing) this.log.warn({ err: messageOf(err) }, 'settler pass failed; retrying every interval');
      this.failing = true;
    } finally {
      this.ticking = false;
    }
  }

  private live(): string[] {
    const peers = this.env.directory.instances({ role: this.env.role }).map((r) => r.instanceId);
    return [...new Set([this.env.instanceId, ...peers])];
  }

  private async sweep(): Promise<void> {
    const stale = await staleOpen(this.db, this.opts.orphanAfterMs);
    if (stale.length === 0) return;
    const live = new Set(this.live());
    for (const s of stale) {
      const lost = !live.has(s.instanceId) || (s.instanceId === this.env.instanceId && !this.holds(s.duelId));
      if (!lost) continue;
      if (await voidOpen(this.db, s.duelId, 'abandoned'))
        this.log.warn(
          { duel: s.duelId, instance: s.instanceId },
          'duel lost with its instance: its stakes are refunded',
        );
    }
  }

  private async claimAndWork(claim: () => Promise<Settlement[]>): Promise<void> {
    const rows = (await claim()).filter((r) => !this.working.has(r.duelId));
    await Promise.all(rows.map((r) => this.work(r)));
  }

  private backoff(attempts: number): number {
    const full = Math.min(this.opts.settleMaxBackoffMs, this.opts.settleBackoffMs * 2 ** Math.max(0, attempts - 1));
    // Jitter, so rows that failed together do not retry in lockstep.
    return Math.round(full * (0.5 + Math.random() / 2));
  }

  private async work(s: Settlement): Promise<void> {
    this.working.add(s.duelId);
    try {
      const services = this.env.services({ traceId: `duel-settle-${s.duelId}` });
      const errors: string[] = [];
      let escrowDone = s.escrowDone;
      let reportDone = s.reportDone;
      if (!escrowDone) {
        try {
          await this.escrow(s, services);
          escrowDone = true;
        } catch (err) {
          errors.push(`escrow: ${messageOf(err)}`);
        }
      }
      if (!reportDone) {
        try {
          const name = s.usernames[s.players.indexOf(s.winner)] || s.winner;
          await services.leaderboard.report(LEADERBOARD, s.winner, name, new Int64(1), `duel:${s.duelId}`);
          reportDone = true;
        } catch (err) {
          errors.push(`leaderboard: ${messageOf(err)}`);
        }
      }
      const error = errors.join('; ');
      await recordAttempt(this.db, s.duelId, { escrowDone, reportDone }, error, this.backoff(s.attempts));
      if (error !== '')
        this.log.warn({ duel: s.duelId, attempt: s.attempts, err: error }, 'duel settlement incomplete; retrying');
      else this.log.info({ duel: s.duelId, attempts: s.attempts, escrow: s.escrow, winner: s.winner }, 'duel settled');
    } catch (err) {
      // Not even recorded: the claim's lease runs out and the row is worked again.
      this.log.warn({ duel: s.duelId, err: messageOf(err) }, 'duel settlement attempt not recorded; retrying');
    } finally {
      this.working.delete(s.duelId);
    }
  }

  private async escrow(s: Settlement, services: ServiceClients): Promise<void> {
    if (s.escrow === 'payout') {
      const r = await services.player.settleEscrow(s.duelId, s.winner);
      if (r.state !== 'paid' || r.winner !== s.winner) throw new Error(`escrow is ${r.state} to ${r.winner}, not paid`);
    } else if (s.escrow === 'refund') {
      const r = await services.player.refundEscrow(s.duelId);
      // void: nothing had been taken (an escrow that never landed)
      if (r.state !== 'refunded' && r.state !== 'void') throw new Error(`escrow is ${r.state}, not refunded`);
    }
  }
}
