/**
 * One channel's subscribers on this broker, and what each gets of a message: the broker receives
 * every message of the channel once (from the owner's PUB) and hands it only to the subscribers
 * whose filter matches its attributes. Each subscriber has a cursor, the last seq accounted for
 * (delivered or filtered out), so that, per subscriber:
 *
 * - a seq at or below the cursor is a duplicate (two owners' sockets during a hand-off) or older
 *   than the subscription, and is dropped;
 * - a seq past cursor + 1 means messages never reached this broker: the subscriber is told the
 *   range (`channelGap`) before the message past it, and reads it with its filter from history.
 *   A subscriber cannot see such a gap itself, since its filter hides seqs anyway.
 *
 * Pure: no sockets; what a subscriber receives goes through its `deliver`.
 */
import type { CompiledQuery, Row } from '../shared/query';

export interface ChannelSubscriber {
  readonly id: string;
  /** queue one Thrift message to the client; false if the subscriber was cut off */
  deliver(message: Buffer): boolean;
}

interface Subscription {
  filter: CompiledQuery;
  /** '' as filter: no need to read the attributes for it */
  everything: boolean;
  /** the last seq accounted for */
  last: number;
}

export interface FanOutCounts {
  delivered: number;
  filtered: number;
  duplicates: number;
  gaps: number;
}

export class ChannelFanOut {
  private readonly subs = new Map<ChannelSubscriber, Subscription>();

  constructor(
    readonly channel: string,
    /** the gap notice for seqs from..to */
    private readonly gapMessage: (channel: string, fromSeq: number, toSeq: number) => Buffer,
    /** where deliveries, filtered messages, duplicates and gaps are counted (per subscriber) */
    readonly counts: FanOutCounts = { delivered: 0, filtered: 0, duplicates: 0, gaps: 0 },
  ) {}

  get size(): number {
    return this.subs.size;
  }

  has(member: ChannelSubscriber): boolean {
    return this.subs.has(member);
  }

  /**
   * Subscribes (or, subscribed already, changes the filter of) `member`, for the messages after
   * `afterSeq`. A resubscription never goes back: what was accounted for stays so.
   */
  add(member: ChannelSubscriber, filter: CompiledQuery, everything: boolean, afterSeq: number): void {
    const last = Math.max(afterSeq, this.subs.get(member)?.last ?? 0);
    this.subs.set(member, { filter, everything, last });
  }

  remove(member: ChannelSubscriber): boolean {
    return this.subs.delete(member);
  }

  members(): ChannelSubscriber[] {
    return [...this.subs.keys()];
  }

  /**
   * One message of the channel: `row` reads its attributes (called at most once, only when a
   * filter needs them). Subscribers whose connection is cut off are removed.
   */
  offer(seq: number, message: Buffer, row: () => Row): void {
    let attributes: Row | undefined;
    for (const [member, sub] of this.subs) {
      if (seq <= sub.last) {
        this.counts.duplicates++;
        continue;
      }
      let alive = true;
      if (seq > sub.last + 1) {
        this.counts.gaps++;
        alive = member.deliver(this.gapMessage(this.channel, sub.last + 1, seq - 1));
      }
      sub.last = seq;
      if (alive && (sub.everything || sub.filter.matches((attributes ??= row())))) {
        this.counts.delivered++;
        alive = member.deliver(message);
      } else if (alive) this.counts.filtered++;
      if (!alive) this.subs.delete(member);
    }
  }
}
