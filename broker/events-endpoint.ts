/**
 * The IDL service Events as the broker answers it (docs/pushes.md): `poll` (the session's push
 * stream as ordinary reply data, for any Thrift client) and `subscribe` (this connection wants
 * the stream as ONEWAY messages). The broker answers because the pushes of a session arrive at
 * the broker holding it: a waiting poll is woken by them without another hop or a subscription.
 */
import * as thrift from 'thrift';
import type { Logger } from '../shared/log';
import { Events, GameError, ErrorCode, PushBatch, PushEvent } from '../shared/protocol';
import type { Replay } from '../shared/push/stream';
import { DEFAULT_CAPS } from '../shared/thrift/capped';
import type { MessageHeader } from '../shared/thrift/header';
import { buildMessage, openMessage } from '../shared/thrift/messages';
import { transcodeMessage } from '../edge/transcode';
import type { BrokerConn } from './connection';
import type { PushDelivery } from './push-delivery';

/** Pushes in one poll reply at most. */
export const MAX_POLL_BATCH = 500;

type Int64Like = { toNumber(allowImprecise?: boolean): number } | number;
const num = (v: Int64Like | undefined): number => (v === undefined ? 0 : typeof v === 'number' ? v : v.toNumber(true));

export class EventsEndpoint {
  constructor(
    private readonly delivery: PushDelivery,
    private readonly logger: Logger,
  ) {}

  /** True when `method` is one the broker answers (the others are ONEWAY pushes, never calls). */
  static answers(method: string): boolean {
    return method === 'poll' || method === 'subscribe';
  }

  /** Answers one Events call of a logged-in connection. Never throws. */
  async handle(bc: BrokerConn, header: MessageHeader, method: string, bytes: Buffer): Promise<void> {
    const sessionId = bc.session?.sessionId;
    try {
      if (!sessionId)
        throw new GameError({ code: ErrorCode.UNAUTHENTICATED, message: 'log in first', retryable: false });
      const { input } = openMessage(bytes, DEFAULT_CAPS, header.protocol);
      input.readMessageBegin();
      let replay: Replay;
      if (method === 'poll') {
        const a = Events.PollArgs.read(input);
        const afterSeq = a.afterSeq === undefined || a.afterSeq === null ? 0 : num(a.afterSeq);
        if (afterSeq < 0) throw badRequest(`afterSeq must be >= 0, got ${afterSeq}`);
        const max = Math.min(a.max !== undefined && a.max > 0 ? a.max : MAX_POLL_BATCH, MAX_POLL_BATCH);
        replay = await this.delivery.poll(sessionId, afterSeq, max, Math.max(0, a.waitMs ?? 0), () => bc.conn.closed);
      } else {
        const a = Events.SubscribeArgs.read(input);
        const afterSeq = a.afterSeq === undefined || a.afterSeq === null ? 0 : num(a.afterSeq);
        if (afterSeq < 0) throw badRequest(`afterSeq must be >= 0, got ${afterSeq}`);
        replay = await this.delivery.subscribe(bc, afterSeq);
        replay = { ...replay, pushes: [] };
      }
      if (!bc.conn.closed) bc.conn.send(this.reply(header, method, batchOf(replay, header)));
    } catch (err) {
      const ge =
        err instanceof GameError
          ? err
          : new GameError({
              code: ErrorCode.UNAVAILABLE,
              message: `push stream: ${(err as Error).message}`,
              retryable: true,
            });
      if (!(err instanceof GameError))
        this.logger.warn({ err: (err as Error).message, sessionId }, 'Events call failed');
      if (!bc.conn.closed) bc.conn.send(this.reply(header, method, undefined, ge));
    }
  }

  private reply(header: MessageHeader, method: string, success?: PushBatch, err?: GameError): Buffer {
    const Result = method === 'poll' ? Events.PollResult : Events.SubscribeResult;
    return buildMessage(header.protocol, (out) => {
      out.writeMessageBegin(method, thrift.Thrift.MessageType.REPLY, header.seqid);
      new Result(success ? { success } : { err: err! }).write(out);
      out.writeMessageEnd();
    });
  }
}

function badRequest(message: string): GameError {
  return new GameError({ code: ErrorCode.BAD_REQUEST, message, retryable: false });
}

function batchOf(r: Replay, header: MessageHeader): PushBatch {
  return new PushBatch({
    events: r.pushes.map(
      (p) => new PushEvent({ seq: p.seq, name: p.name, message: transcodeMessage(p.message, header.protocol) }),
    ),
    missedFrom: r.missed?.fromSeq ?? 0,
    missedTo: r.missed?.toSeq ?? 0,
    lastSeq: r.lastSeq,
  });
}
