/**
 * The subscribing side of events, in every instance of a service that declares subscriptions.
 * The service's outbox rows (consumer = its role: one consumer group per service) are claimed by
 * whichever of its instances comes first (FOR UPDATE SKIP LOCKED, with a lease), so each event
 * reaches the service once however many instances it runs; a keyed event is claimable only when
 * the earlier ones of its key are done, so a key's events arrive in order. Each delivery runs
 * with runDelivery: the handler's effect and the delivery's completion commit together.
 */
import { claimRows, subscribeConsumer } from '../../shared/data/outbox';
import type { Db } from '../../shared/data/sql';
import type { BackoffPolicy } from '../../shared/jobs/backoff';
import type { Logger } from '../../shared/log';
import type { DeliveryHandler } from '../outbox-api';
import { runDelivery, type DeliveryOutcome } from './run-delivery';

export interface EventConsumerOptions {
  db: Db;
  role: string;
  instanceId: string;
  handlers: readonly DeliveryHandler[];
  /** the service's live instances (a row claimed by anyone else is taken over at once) */
  live(): string[];
  pollMs: number;
  leaseMs: number;
  /** deliveries run at once by this instance */
  batch: number;
  backoff: BackoffPolicy;
  logger: Logger;
  onOutcome?(kind: string, outcome: DeliveryOutcome): void;
}

export class EventConsumer {
  private readonly byKind = new Map<string, DeliveryHandler>();
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private failing = false;
  private stopped = false;
  private current?: Promise<void>;

  constructor(private readonly opts: EventConsumerOptions) {
    for (const h of opts.handlers) {
      if (h.of !== 'event')
        throw new Error(`${opts.role}: subscriptions hold ${h.of} handler ${h.kind}; use onEvent()`);
      if (this.byKind.has(h.kind)) throw new Error(`${opts.role}: two subscriptions to event ${h.kind}`);
      this.byKind.set(h.kind, h);
    }
  }

  /** Records the subscriptions (events published from now on are owed to this service), then polls. */
  async start(): Promise<void> {
    await subscribeConsumer(this.opts.db, this.opts.role, [...this.byKind.keys()]);
    this.timer = setInterval(() => this.kick(), this.opts.pollMs);
    this.kick();
  }

  kick(): void {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    this.current = this.tick().finally(() => (this.ticking = false));
  }

  private async tick(): Promise<void> {
    try {
      for (;;) {
        const rows = await claimRows(this.opts.db, {
          consumer: this.opts.role,
          me: this.opts.instanceId,
          kinds: [...this.byKind.keys()],
          live: this.opts.live(),
          leaseMs: this.opts.leaseMs,
          limit: this.opts.batch,
        });
        await Promise.all(
          rows.map(async (row) => {
            const handler = this.byKind.get(row.kind);
            if (!handler) return;
            const log = this.opts.logger.child({ event: row.id, kind: row.kind });
            const outcome = await runDelivery(this.opts.db, handler, row, this.opts.backoff, log);
            this.opts.onOutcome?.(row.kind, outcome);
          }),
        );
        if (this.failing) this.opts.logger.info('event delivery is working again');
        this.failing = false;
        if (rows.length < this.opts.batch || this.stopped) return;
      }
    } catch (err) {
      if (!this.failing)
        this.opts.logger.warn({ err: String(err) }, 'event delivery pass failed; retrying every interval');
      this.failing = true;
    }
  }

  /** Stops polling and waits for the deliveries under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.current;
  }
}
