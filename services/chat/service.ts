/**
 * Chat: stateless routing, rooms owned by rendezvous (owner = ctx.ownerOf(roomId) among live chat
 * instances). join/leave/say reaching another instance are forwarded to the owner, whose reply
 * directives (subscribe to the room's topic on the owner's PUB) ride back on the outer reply.
 * history is answered by any instance: the Kv's recent list when it covers the range, else Postgres.
 */
import type Int64 from 'node-int64';
import { Chat, ErrorCode, GameError, Pong, RoomSnapshot, type ChatMessage } from '../../shared/protocol';
import type { Db } from '../../shared/data/sql';
import type { Kv } from '../../shared/data/kv';
import type { CallContext, ServiceDef, ServiceEnv, ServiceModule } from '../../rpc/api';
import { ErrorCodes, NoonError, type ErrorCode as NoonErrorCode } from '../../shared/errors';
import { LogLimiter } from '../../shared/log-limit';
import { chatMigrations } from './migrations';
import { RecentHistory } from './recent';
import { RoomOwner, toChatMessage, topicOf } from './rooms';
import { lastMessages, messagesAfter } from './store';

export const MAX_TEXT = 500;
export const SNAPSHOT_RECENT = 50;
export const MAX_HISTORY = 200;
const ROOM_RE = /^[A-Za-z0-9_-]{1,64}$/;

function refuse(code: ErrorCode, message: string): GameError {
  return new GameError({ code, message, retryable: false });
}

function checkRoom(roomId: string): string {
  if (!ROOM_RE.test(roomId)) throw refuse(ErrorCode.BAD_REQUEST, 'roomId must be 1..64 characters of [A-Za-z0-9_-]');
  return roomId;
}

function checkText(text: string): string {
  // UTF-16 units are at least as many as characters: up to MAX_TEXT units it fits uncounted.
  const fits = text.length > 0 && (text.length <= MAX_TEXT || [...text].length <= MAX_TEXT);
  if (!fits) throw refuse(ErrorCode.BAD_REQUEST, `text must be 1..${MAX_TEXT} characters`);
  return text;
}

/**
 * The owner's refusal (BUSY when its room queue is full, UNAVAILABLE when the room moved) comes
 * back from a forwarded call as a TApplicationException "<CODE>: …"; it is passed on as that
 * code, not turned into INTERNAL.
 */
function relayed(err: unknown): never {
  const m =
    err instanceof Error && err.name === 'TApplicationException' ? /^([A-Z_]+): (.*)$/s.exec(err.message) : null;
  const code = m?.[1] as NoonErrorCode | undefined;
  if (m && code !== undefined && code in ErrorCodes) throw new NoonError(code, m[2] ?? '');
  throw err;
}

function loggedIn(ctx: CallContext): void {
  if (ctx.userId === '') throw refuse(ErrorCode.UNAUTHENTICATED, 'log in first');
}

const membersKey = (roomId: string): string => `chat:{${roomId}}:members`;

class ChatService {
  private readonly recent: RecentHistory;
  private readonly owner: RoomOwner;

  constructor(
    private readonly env: ServiceEnv,
    private readonly db: Db,
    private readonly kv: Kv,
  ) {
    const log = env.logger.child({ component: 'chat' });
    this.recent = new RecentHistory(kv, log);
    const unpublished = new LogLimiter({ intervalMs: 10_000 });
    this.owner = new RoomOwner(env, db, this.recent, log, {
      maxQueued: env.cfg.chatRoomQueue,
      ratePerSec: env.cfg.chatRoomRate,
      onBusy: () => env.drop?.('chat_busy'),
      onUnpublished: (room, seq) => {
        // Members see the gap at the next message and repair it from history.
        if (unpublished.admit('unpublished', Date.now()))
          log.warn({ room, seq }, 'room message stored but not published (PUB queue full)');
      },
    });
  }

  /**
   * The room's owner when it is another instance, else undefined (answer here). A call already
   * forwarded by a peer is answered here even if this instance disagrees about the owner, so two
   * instances with briefly different views cannot bounce it until its deadline.
   */
  private ownerElsewhere(roomId: string, ctx: CallContext): string | undefined {
    const owner = ctx.ownerOf(roomId);
    if (owner === undefined || owner === this.env.instanceId) return undefined;
    const fromPeer = this.env.directory.instances({ role: this.env.role }).some((r) => r.instanceId === ctx.via);
    return fromPeer ? undefined : owner;
  }

  async join(roomId: string, ctx: CallContext): Promise<RoomSnapshot> {
    loggedIn(ctx);
    checkRoom(roomId);
    const owner = this.ownerElsewhere(roomId, ctx);
    if (owner !== undefined) return ctx.servicesAt(owner).chat.join(roomId);
    // Membership is soft state (who joined through which session); losing it loses nothing.
    await this.kv.hset(membersKey(roomId), ctx.sessionId, ctx.userId).catch(() => undefined);
    const lastSeq = await this.owner.lastSeq(roomId);
    const from = Math.max(0, lastSeq - SNAPSHOT_RECENT);
    const recent =
      (await this.recent.after(roomId, from, SNAPSHOT_RECENT, lastSeq)) ??
      (await lastMessages(this.db, roomId, SNAPSHOT_RECENT));
    // The caller's broker subscribes to the room on this (the owner's) PUB.
    ctx.subscribe(topicOf(roomId));
    return new RoomSnapshot({ roomId, lastSeq, recent: recent.map(toChatMessage) });
  }

  async leave(roomId: string, ctx: CallContext): Promise<void> {
    loggedIn(ctx);
    checkRoom(roomId);
    const owner = this.ownerElsewhere(roomId, ctx);
    if (owner !== undefined) return ctx.servicesAt(owner).chat.leave(roomId);
    await this.kv.hdel(membersKey(roomId), ctx.sessionId).catch(() => undefined);
    ctx.unsubscribe(topicOf(roomId));
  }

  async say(roomId: string, text: string, ctx: CallContext): Promise<ChatMessage> {
    loggedIn(ctx);
    checkRoom(roomId);
    checkText(text);
    const owner = this.ownerElsewhere(roomId, ctx);
    // handed on with its request id: the owner keys the row by it, whichever instance it came through
    if (owner !== undefined) return ctx.servicesAt(owner, { forwarding: true }).chat.say(roomId, text).catch(relayed);
    const key = ctx.clientRequestId === undefined ? undefined : `${ctx.sessionId}/${ctx.clientRequestId}`;
    return this.owner.say(roomId, ctx.userId, ctx.username || ctx.userId, text, key);
  }

  refusal(roomId: string): NoonError | undefined {
    return this.owner.refusal(roomId);
  }

  async history(roomId: string, afterSeqArg: Int64, limit: number): Promise<ChatMessage[]> {
    checkRoom(roomId);
    const afterSeq = Number(afterSeqArg.toString());
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) throw refuse(ErrorCode.BAD_REQUEST, 'afterSeq must be >= 0');
    if (!Number.isInteger(limit) || limit < 1) throw refuse(ErrorCode.BAD_REQUEST, 'limit must be at least 1');
    const n = Math.min(limit, MAX_HISTORY);
    const cached = await this.recent.after(roomId, afterSeq, n);
    return (cached ?? (await messagesAfter(this.db, roomId, afterSeq, n))).map(toChatMessage);
  }
}

export function chatService(env: ServiceEnv, db: Db, kv: Kv): ServiceDef<Chat.IHandler> {
  const svc = new ChatService(env, db, kv);
  return {
    role: 'chat',
    thriftService: 'Chat',
    processor: Chat.Processor,
    // Rooms are owned by rendezvous of the room id, not bound per session: any instance forwards.
    stateful: false,
    publicMethods: ['ping'],
    // say is keyed by its row (session and request id, services/chat/store.ts): a retry stores nothing
    idempotentMethods: ['join', 'leave', 'history', 'ping', 'say'],
    // A say into a room whose queue here is full is refused before it is decoded (a flooded room
    // must not crowd out the instance's other rooms); a say of a room owned elsewhere has no queue here.
    shed: ({ method, userId, key }) => {
      if (method !== 'say' || userId === '') return undefined;
      const roomId = key();
      return roomId === undefined ? undefined : svc.refusal(roomId);
    },
    handlers: {
      join: (roomId, ctx) => svc.join(roomId, ctx),
      leave: (roomId, ctx) => svc.leave(roomId, ctx),
      say: (roomId, text, ctx) => svc.say(roomId, text, ctx),
      history: (roomId, afterSeq, limit) => svc.history(roomId, afterSeq, limit),
      ping: () => new Pong({ instance: env.instanceId, serviceName: 'Chat', serverTimeMs: Date.now() }),
    },
  };
}

export const chatModule: ServiceModule<Chat.IHandler> = {
  role: 'chat',
  migrations: chatMigrations,
  build: (env, { db, kv }) => chatService(env, db, kv),
};
