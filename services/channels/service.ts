/**
 * Channels: named pub/sub for clients, with filters the brokers evaluate (docs/channels.md).
 * Channels are owned by rendezvous of the channel name among live channels instances; publish
 * and subscribe reaching another instance are forwarded to the owner (the owner numbers the
 * channel and answers the subscription's starting seq). Who may publish and subscribe is decided
 * here, by the channel rules (cfg.channelRules); a filter is parsed here too, so a bad one is
 * refused at subscribe, naming its position, before any broker sees it.
 */
import type Int64 from 'node-int64';
import {
  ChannelPage,
  ChannelSubscription,
  Channels,
  ErrorCode,
  GameError,
  Pong,
  type ChannelMessage,
  type ChannelValue,
} from '../../shared/protocol';
import type { Db } from '../../shared/data/sql';
import type { CallContext, ServiceDef, ServiceEnv, ServiceModule } from '../../rpc/api';
import { ErrorCodes, NoonError, type ErrorCode as NoonErrorCode } from '../../shared/errors';
import { LogLimiter } from '../../shared/log-limit';
import {
  MAX_CHANNEL_PAYLOAD,
  attributeRow,
  attributesProblem,
  channelNameProblem,
  compileChannelFilter,
  decide,
  parseChannelRules,
  type Actor,
  type ChannelAction,
  type ChannelRule,
} from '../../shared/channels';
import type { CompiledQuery } from '../../shared/query';
import { channelsMigrations } from './migrations';
import { ChannelOwner, channelTopic } from './owner';
import { maxSeq, messagesAfter } from './store';

/** Matching messages one history call returns at most, and messages it reads at most. */
export const MAX_HISTORY = 200;
export const MAX_HISTORY_SCAN = 5000;
const SCAN_PAGE = 500;

function refuse(code: ErrorCode, message: string): GameError {
  return new GameError({ code, message, retryable: false });
}

/** The owner's refusal (BUSY, UNAVAILABLE) comes back from a forwarded call as "<CODE>: …"; pass it on as that code. */
function relayed(err: unknown): never {
  const m =
    err instanceof Error && err.name === 'TApplicationException' ? /^([A-Z_]+): (.*)$/s.exec(err.message) : null;
  const code = m?.[1] as NoonErrorCode | undefined;
  if (m && code !== undefined && code in ErrorCodes) throw new NoonError(code, m[2] ?? '');
  throw err;
}

function filterOf(filter: string): CompiledQuery {
  try {
    return compileChannelFilter(filter);
  } catch (err) {
    throw refuse(ErrorCode.BAD_REQUEST, `filter: ${(err as Error).message}`);
  }
}

class ChannelsService {
  private readonly rules: ChannelRule[];
  private readonly owner: ChannelOwner;

  constructor(
    private readonly env: ServiceEnv,
    private readonly db: Db,
  ) {
    const log = env.logger.child({ component: 'channels' });
    this.rules = parseChannelRules(env.cfg.channelRules);
    const unpublished = new LogLimiter({ intervalMs: 10_000 });
    this.owner = new ChannelOwner(env, db, log, {
      maxQueued: env.cfg.channelQueue,
      onBusy: () => env.drop?.('channel_busy'),
      onUnpublished: (channel, seq) => {
        // Subscribers' brokers see the gap at the next message and tell them to read history.
        if (unpublished.admit('unpublished', Date.now()))
          log.warn({ channel, seq }, 'channel message stored but not published (PUB queue full)');
      },
    });
  }

  /** A valid channel name that `actor` may `action` on; else BAD_REQUEST or FORBIDDEN saying why. */
  private check(channel: string, action: ChannelAction, actor: Actor): void {
    const problem = channelNameProblem(channel);
    if (problem) throw refuse(ErrorCode.BAD_REQUEST, problem);
    const d = decide(this.rules, channel, action, actor);
    if (!d.allowed) throw refuse(ErrorCode.FORBIDDEN, d.reason);
  }

  private user(ctx: CallContext): Actor {
    if (ctx.userId === '') throw refuse(ErrorCode.UNAUTHENTICATED, 'log in first');
    return { kind: 'user', userId: ctx.userId };
  }

  /** The channel's owner when it is another instance, else undefined; a call a peer forwarded is answered here. */
  private ownerElsewhere(channel: string, ctx: CallContext): string | undefined {
    const owner = ctx.ownerOf(channel);
    if (owner === undefined || owner === this.env.instanceId) return undefined;
    const fromPeer = this.env.directory.instances({ role: this.env.role }).some((r) => r.instanceId === ctx.via);
    return fromPeer ? undefined : owner;
  }

  async subscribe(channel: string, filter: string, ctx: CallContext): Promise<ChannelSubscription> {
    this.check(channel, 'subscribe', this.user(ctx));
    filterOf(filter);
    const owner = this.ownerElsewhere(channel, ctx);
    if (owner !== undefined) return ctx.servicesAt(owner).channels.subscribe(channel, filter).catch(relayed);
    const lastSeq = await this.owner.lastSeq(channel);
    // The caller's broker takes the subscription before the reply reaches the client.
    ctx.subscribeChannel(channelTopic(channel), filter, lastSeq);
    return new ChannelSubscription({ channel, filter, lastSeq });
  }

  unsubscribe(channel: string, ctx: CallContext): void {
    this.user(ctx);
    const problem = channelNameProblem(channel);
    if (problem) throw refuse(ErrorCode.BAD_REQUEST, problem);
    ctx.unsubscribe(channelTopic(channel));
  }

  async publish(
    channel: string,
    attributes: Map<string, ChannelValue> | undefined,
    payload: Buffer | undefined,
    ctx: CallContext,
    actor: Actor,
  ): Promise<ChannelMessage> {
    this.check(channel, 'publish', actor);
    const attrs = attributes ?? new Map<string, ChannelValue>();
    const problem = attributesProblem(attrs);
    if (problem) throw refuse(ErrorCode.BAD_REQUEST, problem);
    const body = payload ?? Buffer.alloc(0);
    if (body.length > MAX_CHANNEL_PAYLOAD)
      throw refuse(ErrorCode.TOO_LARGE, `payload of ${body.length} bytes exceeds ${MAX_CHANNEL_PAYLOAD}`);
    const owner = this.ownerElsewhere(channel, ctx);
    if (owner !== undefined) {
      const at = ctx.servicesAt(owner).channels;
      const forwarded =
        actor.kind === 'service' ? at.publishAsService(channel, attrs, body) : at.publish(channel, attrs, body);
      return forwarded.catch(relayed);
    }
    const publisher = actor.kind === 'service' ? 'service' : actor.userId;
    return this.owner.publish(channel, { attributes: attrs, payload: body, publisher });
  }

  async history(
    channel: string,
    afterSeqArg: Int64,
    limit: number,
    filter: string,
    ctx: CallContext,
  ): Promise<ChannelPage> {
    this.check(channel, 'subscribe', this.user(ctx));
    const test = filterOf(filter);
    const afterSeq = Number(afterSeqArg.toString());
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) throw refuse(ErrorCode.BAD_REQUEST, 'afterSeq must be >= 0');
    if (!Number.isInteger(limit) || limit < 1) throw refuse(ErrorCode.BAD_REQUEST, 'limit must be at least 1');
    const want = Math.min(limit, MAX_HISTORY);
    // Read first: every message up to it is committed, so a scan that reaches the end has seen them all.
    const lastSeq = await maxSeq(this.db, channel);
    const messages: ChannelMessage[] = [];
    let scannedTo = afterSeq;
    let scanned = 0;
    while (messages.length < want && scanned < MAX_HISTORY_SCAN) {
      const page = await messagesAfter(this.db, channel, scannedTo, SCAN_PAGE);
      for (const m of page) {
        scannedTo = Number(String(m.seq));
        scanned++;
        if (test.matches(attributeRow(m.attributes)) && messages.push(m) >= want) break;
      }
      if (page.length < SCAN_PAGE) break;
    }
    // Nothing unread after the scan: say so, so the reader does not ask again.
    if (messages.length < want && scanned < MAX_HISTORY_SCAN) scannedTo = Math.max(scannedTo, lastSeq);
    return new ChannelPage({ messages, scannedTo, lastSeq });
  }
}

export function channelsService(env: ServiceEnv, db: Db): ServiceDef<Channels.IHandler> {
  const svc = new ChannelsService(env, db);
  return {
    role: 'channels',
    thriftService: 'Channels',
    processor: Channels.Processor,
    // Channels are owned by rendezvous of the name, not bound per session: any instance forwards.
    stateful: false,
    publicMethods: ['ping'],
    idempotentMethods: ['subscribe', 'unsubscribe', 'history', 'ping'],
    internalMethods: ['publishAsService'],
    handlers: {
      subscribe: (channel, filter, ctx) => svc.subscribe(channel, filter, ctx),
      unsubscribe: (channel, ctx) => svc.unsubscribe(channel, ctx),
      publish: (channel, attributes, payload, ctx) =>
        svc.publish(channel, attributes, payload, ctx, { kind: 'user', userId: ctx.userId || fail() }),
      publishAsService: (channel, attributes, payload, ctx) =>
        svc.publish(channel, attributes, payload, ctx, { kind: 'service' }),
      history: (channel, afterSeq, limit, filter, ctx) => svc.history(channel, afterSeq, limit, filter, ctx),
      ping: () => new Pong({ instance: env.instanceId, serviceName: 'Channels', serverTimeMs: Date.now() }),
    },
  };
}

function fail(): never {
  throw refuse(ErrorCode.UNAUTHENTICATED, 'log in first');
}

export const channelsModule: ServiceModule<Channels.IHandler> = {
  role: 'channels',
  migrations: channelsMigrations,
  build: (env, { db }) => channelsService(env, db),
};
