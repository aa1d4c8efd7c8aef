/**
 * What the owner of a channel does (the rendezvous owner among live channels instances): number
 * the channel's messages 1, 2, 3 … with no gaps, store them, and publish each once, in seq order,
 * on this instance's PUB, where every broker with subscribers of the channel receives it once.
 *
 * Numbering needs no lease: the owner keeps the last seq it stored (read from Postgres when it
 * takes a channel up) and inserts a batch as seqs last+1 … in one statement. The primary key
 * (channel, seq) refuses a batch whose seqs another instance took meanwhile (two owners for a
 * moment while views of the instance list differ); the owner then reads max(seq) again and
 * numbers the batch after it. So no seq is used twice and none is skipped, and a message is
 * published only after it is stored, which is what lets subscribers repair any loss from history.
 *
 * Backpressure: each channel has a bounded queue of messages waiting to be stored; a full queue
 * answers BUSY at once.
 */
import type { Db } from '../../shared/data/sql';
import { sqlState } from '../../shared/data/sql';
import { NoonError } from '../../shared/errors';
import type { Logger } from '../../shared/log';
import type { ChannelMessage } from '../../shared/protocol';
import { ChannelMessage as Message } from '../../shared/protocol';
import { events } from '../../shared/thrift/events';
import type { ServiceEnv } from '../../rpc/api';
import { insertBatch, maxSeq, type NewChannelMessage } from './store';

/** Messages stored by one INSERT at most. */
const MAX_BATCH = 512;
/** Seq collisions one batch may go through before its senders are refused (retryable). */
const COMMIT_ATTEMPTS = 3;

export const channelTopic = (channel: string): string => `channels/${channel}`;

interface Waiting {
  msg: NewChannelMessage;
  resolve(m: ChannelMessage): void;
  reject(err: Error): void;
}

interface ChannelState {
  waiting: Waiting[];
  storing: boolean;
  /** the last seq stored, undefined until read from Postgres */
  lastSeq?: number;
}

export interface ChannelOwnerOptions {
  /** messages one channel may have waiting to be stored (cfg.channelQueue) */
  maxQueued: number;
  onBusy?(channel: string): void;
  /** a stored message could not be queued on the PUB (subscribers repair it from history) */
  onUnpublished?(channel: string, seq: number): void;
}

export class ChannelOwner {
  private readonly channels = new Map<string, ChannelState>();

  constructor(
    private readonly env: ServiceEnv,
    private readonly db: Db,
    private readonly log: Logger,
    private readonly opts: ChannelOwnerOptions,
  ) {}

  /**
   * The channel's last stored seq, from Postgres (this instance's counter may be behind after
   * the channel was owned elsewhere for a while): what a new subscription starts after.
   */
  lastSeq(channel: string): Promise<number> {
    return maxSeq(this.db, channel);
  }

  /** The stored message, as published (the same struct answers the publisher). */
  publish(channel: string, msg: NewChannelMessage): Promise<ChannelMessage> {
    let st = this.channels.get(channel);
    if (!st) {
      st = { waiting: [], storing: false };
      this.channels.set(channel, st);
    }
    if (st.waiting.length >= this.opts.maxQueued) {
      this.opts.onBusy?.(channel);
      return Promise.reject(
        new NoonError('BUSY', `channel ${channel} has ${st.waiting.length} messages waiting at its owner; retry later`),
      );
    }
    const state = st;
    return new Promise<ChannelMessage>((resolve, reject) => {
      state.waiting.push({ msg, resolve, reject });
      if (!state.storing) void this.store(channel, state);
    });
  }

  private async store(channel: string, st: ChannelState): Promise<void> {
    st.storing = true;
    try {
      while (st.waiting.length > 0) {
        const batch = st.waiting.splice(0, MAX_BATCH);
        let stored: ChannelMessage[];
        try {
          stored = await this.commit(
            channel,
            st,
            batch.map((w) => w.msg),
          );
        } catch (err) {
          for (const w of batch) w.reject(err as Error);
          continue;
        }
        const topic = channelTopic(channel);
        for (const [i, m] of stored.entries()) {
          const seq = Number(String(m.seq));
          if (!this.env.publish(topic, seq, events.channelMessage(m))) this.opts.onUnpublished?.(channel, seq);
          (batch[i] as Waiting).resolve(m);
        }
      }
    } finally {
      st.storing = false;
    }
  }

  private async commit(channel: string, st: ChannelState, msgs: NewChannelMessage[]): Promise<ChannelMessage[]> {
    for (let attempt = 1; ; attempt++) {
      st.lastSeq ??= await maxSeq(this.db, channel);
      const first = st.lastSeq + 1;
      const sentAtMs = Date.now();
      try {
        await insertBatch(this.db, channel, first, sentAtMs, msgs);
      } catch (err) {
        st.lastSeq = undefined;
        if (sqlState(err) !== '23505') throw err;
        this.log.info({ channel, attempt }, 'channel numbered by another instance meanwhile: renumbering');
        if (attempt >= COMMIT_ATTEMPTS)
          throw new NoonError('UNAVAILABLE', `channel ${channel} is moving to another channels instance; send again`);
        continue;
      }
      st.lastSeq += msgs.length;
      return msgs.map(
        (m, i) =>
          new Message({
            channel,
            seq: first + i,
            attributes: m.attributes,
            payload: m.payload,
            publisher: m.publisher,
            sentAtMs,
          }),
      );
    }
  }
}
