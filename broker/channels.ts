/**
 * Channel subscriptions on this broker (docs/channels.md). A channel's messages reach the broker
 * like room messages (broker/rooms.ts: one SUB per live channels instance, subscribed to the
 * topics with subscribers here), each once; for each channel the hub is the one member of the
 * topic, decodes a message's attributes once and lets the channel's fan-out
 * (channel-fanout.ts) give it to the subscribers whose filter matches, each in seq order, each
 * told of seqs that never arrived.
 */
import type { Logger } from '../shared/log';
import { attributeRow, compileChannelFilter } from '../shared/channels';
import { Events } from '../shared/protocol';
import { events } from '../shared/thrift/events';
import { openMessage } from '../shared/thrift/messages';
import type { Row } from '../shared/query';
import { ChannelFanOut, type ChannelSubscriber, type FanOutCounts } from './channel-fanout';
import type { RoomHub, RoomMember } from './rooms';
import { SharedPush } from '../edge/shared-push';

/** The topic convention of the channels service: `channels/<channel>`. */
export const CHANNEL_TOPIC_PREFIX = 'channels/';

const CAPS = { maxString: 1 << 20, maxContainer: 100_000, maxDepth: 32 };

interface Topic {
  fanOut: ChannelFanOut;
  /** what the room hub delivers the topic's messages to */
  member: RoomMember;
}

export class ChannelHub {
  private readonly topics = new Map<string, Topic>();
  private readonly byMember = new Map<ChannelSubscriber, Set<string>>();
  private readonly totals: FanOutCounts = { delivered: 0, filtered: 0, duplicates: 0, gaps: 0 };

  constructor(
    private readonly rooms: RoomHub,
    private readonly logger: Logger,
  ) {}

  static isChannelTopic(topic: string): boolean {
    return topic.startsWith(CHANNEL_TOPIC_PREFIX);
  }

  /** Subscriptions on this broker, over all channels. */
  get subscriptions(): number {
    let n = 0;
    for (const t of this.topics.values()) n += t.fanOut.size;
    return n;
  }

  /**
   * `member` gets the topic's messages after `afterSeq` that match `filter`, from every live
   * instance of `role`. A filter the service let through but this broker cannot read (another
   * version) ends the subscription with `channelClosed`, saying why.
   */
  subscribe(member: ChannelSubscriber, topic: string, role: string, filter: string, afterSeq: number): void {
    const channel = topic.slice(CHANNEL_TOPIC_PREFIX.length);
    let compiled;
    try {
      compiled = compileChannelFilter(filter);
    } catch (err) {
      member.deliver(events.channelClosed(channel, `filter: ${(err as Error).message}`));
      return;
    }
    let t = this.topics.get(topic);
    if (!t) {
      const fanOut = new ChannelFanOut(channel, events.channelGap, this.totals);
      t = {
        fanOut,
        member: {
          id: `channel:${topic}`,
          deliver: (m, seq) => this.receive(fanOut, m instanceof SharedPush ? m.compact : m, seq),
        },
      };
      this.topics.set(topic, t);
    }
    t.fanOut.add(member, compiled, filter.trim() === '', afterSeq);
    let mine = this.byMember.get(member);
    if (!mine) this.byMember.set(member, (mine = new Set()));
    mine.add(topic);
    this.rooms.subscribe(topic, role, t.member);
  }

  unsubscribe(member: ChannelSubscriber, topic: string): void {
    const t = this.topics.get(topic);
    if (!t?.fanOut.remove(member)) return;
    this.byMember.get(member)?.delete(topic);
    if (t.fanOut.size === 0) this.drop(topic, t);
  }

  /** The connection is gone or logged out: every subscription of it ends. */
  removeMember(member: ChannelSubscriber): void {
    for (const topic of this.byMember.get(member) ?? []) {
      const t = this.topics.get(topic);
      if (t?.fanOut.remove(member) && t.fanOut.size === 0) this.drop(topic, t);
    }
    this.byMember.delete(member);
  }

  /** No instance of the channels role is left: every subscriber of the topic is told. */
  closed(topic: string, reason: string): void {
    const t = this.topics.get(topic);
    if (!t) return;
    this.topics.delete(topic);
    for (const m of t.fanOut.members()) {
      this.byMember.get(m)?.delete(topic);
      m.deliver(events.channelClosed(t.fanOut.channel, reason));
    }
  }

  /** What every channel's fan-out counted since the broker started (for tests and diagnostics). */
  counts(): FanOutCounts {
    return { ...this.totals };
  }

  private drop(topic: string, t: Topic): void {
    this.topics.delete(topic);
    this.rooms.unsubscribe(topic, t.member);
  }

  private receive(fanOut: ChannelFanOut, message: Buffer, seq: number | undefined): boolean {
    if (seq === undefined) return true;
    fanOut.offer(seq, message, () => this.attributes(message));
    return true;
  }

  /** The message's attributes as a filter reads them; none (no filter matches) when it cannot be read. */
  private attributes(message: Buffer): Row {
    try {
      const { input } = openMessage(message, CAPS);
      input.readMessageBegin();
      return attributeRow(Events.ChannelMessageArgs.read(input).message?.attributes);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'channel message attributes unreadable: no filter matches');
      return Object.create(null) as Row;
    }
  }
}
