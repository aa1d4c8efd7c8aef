/**
 * Logged-in connections on this broker and what services asked of them: directives from replies
 * and pushes (log in, bind/unbind a stateful service, subscribe to a room), pushes addressed to
 * a session, and the fallout when an instance dies (STATE_LOST for bound sessions, roomClosed for
 * room members): the client always learns it, it never hangs.
 */
import type { Logger } from '../shared/log';
import type { Metrics } from '../shared/metrics';
import { StateLostKind } from '../shared/protocol';
import { events } from '../shared/thrift/events';
import { withSeqid } from '../shared/thrift/seqid';
import type { Directive, PushEnvelope } from '../shared/wire/frames';
import type { BrokerConn } from './connection';
import { ChannelHub } from './channels';
import type { RoomMemberships } from './room-memberships';
import type { RoomHub, RoomMember } from './rooms';
import type { RoutingTable } from './routing-table';
import type { SessionStore } from './session-store';
import type { PushDelivery } from './push-delivery';
import type { PushLog } from '../shared/data/push-log';
import { MessageType, peekHeader } from '../shared/thrift/header';

export interface SessionsDeps {
  instanceId: string;
  store: SessionStore;
  rooms: RoomHub;
  /** channel subscriptions, on top of the room hub */
  channels: ChannelHub;
  /** the sessions' rooms in the shared store (restored on resume) */
  memberships: RoomMemberships;
  table: () => RoutingTable;
  logger: Logger;
  metrics: Metrics;
  pushLog: PushLog;
  delivery: PushDelivery;
}

/** The seq a service gave a push (its seqid), 0 for an unnumbered one. */
function seqOf(payload: Buffer): number {
  try {
    const h = peekHeader(payload, 256);
    return h.type === MessageType.ONEWAY ? h.seqid : 0;
  } catch {
    return 0;
  }
}

export class Sessions {
  private readonly bySession = new Map<string, Set<BrokerConn>>();

  constructor(private readonly d: SessionsDeps) {}

  get size(): number {
    return this.bySession.size;
  }

  connectionsOf(sessionId: string): ReadonlySet<BrokerConn> {
    return this.bySession.get(sessionId) ?? new Set();
  }

  async apply(conn: BrokerConn, directives: Directive[]): Promise<void> {
    for (const d of directives) {
      switch (d.type) {
        case 'auth':
          await this.login(conn, d);
          break;
        case 'logout':
          this.logout(conn);
          break;
        case 'bind':
          this.setBinding(d.sessionId, d.service, d.instanceId);
          break;
        case 'unbind':
          this.setBinding(d.sessionId, d.service, undefined);
          break;
        case 'subscribe':
          this.subscribe(conn, d.topic, d.instanceId);
          break;
        case 'unsubscribe':
          if (ChannelHub.isChannelTopic(d.topic)) {
            this.d.channels.unsubscribe(conn, d.topic);
            break;
          }
          this.d.rooms.unsubscribe(d.topic, conn);
          if (conn.session) this.d.memberships.set(conn.session.sessionId, d.topic, undefined);
          break;
        case 'channel':
          this.subscribeChannel(conn, d);
          break;
        case 'close':
          conn.conn.close(d.reason, true);
          break;
      }
    }
    // The connection can close while a reply's directives are applied (a login's store reads are
    // awaited): what they attached after its close would be held for good, a session and rooms
    // with no socket. remove() is what the close did; it runs again for what came after.
    if (conn.conn.closed) this.remove(conn);
  }

  /** Records the rendezvous choice for a stateful service, so its death is reported as STATE_LOST. */
  bind(conn: BrokerConn, role: string, instanceId: string): void {
    if (conn.session) this.setBinding(conn.session.sessionId, role, instanceId);
  }

  /** The bound instance is gone (detail names it): drop every binding of this connection to dead instances. */
  unbind(conn: BrokerConn, _detail: string): void {
    const table = this.d.table();
    const s = conn.session;
    if (s)
      for (const [role, id] of [...conn.bindings])
        if (!table.instance(id)) this.setBinding(s.sessionId, role, undefined);
  }

  onPush(push: PushEnvelope): void {
    const conns = this.bySession.get(push.sessionId);
    const seq = push.payload.length > 0 ? seqOf(push.payload) : 0;
    if (!conns || conns.size === 0) {
      // A numbered push is kept in the session's window: the session gets it when it resumes.
      if (seq === 0) this.d.metrics.drops.inc({ reason: 'push_no_session' });
      return;
    }
    // A 'close' acts after the payload (the client learns why); every other directive before it
    // (a bind must hold before the client reacts to the event).
    const before = push.directives.filter((d) => d.type !== 'close');
    const after = push.directives.filter((d) => d.type === 'close');
    for (const conn of [...conns]) {
      if (before.length > 0) void this.apply(conn, before);
      if (seq > 0) this.d.delivery.offer(conn, seq, push.payload);
      else if (push.payload.length > 0) conn.deliver(push.payload);
      if (after.length > 0) void this.apply(conn, after);
    }
    if (seq > 0) this.d.delivery.wake(push.sessionId);
  }

  /**
   * A push the broker itself makes for a session: numbered in its stream like a service's, or,
   * when the store cannot be reached, written unnumbered to the connection.
   */
  pushToSession(conn: RoomMember & { readonly session?: { sessionId: string } }, message: Buffer): void {
    const sessionId = conn.session?.sessionId;
    if (!sessionId) {
      conn.deliver(message);
      return;
    }
    const name = peekHeader(message, 256).name;
    this.d.pushLog.append(sessionId, name, message).then(
      (a) => this.onPush({ kind: 'push', sessionId, directives: [], payload: withSeqid(message, a.seq & 0x7fffffff) }),
      (err: Error) => {
        this.d.logger.warn({ err: err.message, sessionId }, 'push stream unreachable: push sent unnumbered');
        conn.deliver(message);
      },
    );
  }

  /**
   * An instance left Yellow: bound sessions get stateLost (unless the service is durable: the
   * binding only goes, and the next call is placed on a live instance), room members get roomClosed.
   */
  instanceDown(instanceId: string, role: string): void {
    const durable = this.d.table().serviceOfRole(role)?.durable === true;
    for (const conns of this.bySession.values()) {
      for (const conn of conns) {
        if (conn.bindings.get(role) !== instanceId || !conn.session) continue;
        this.setBinding(conn.session.sessionId, role, undefined);
        if (durable) continue;
        this.pushToSession(
          conn,
          events.stateLost(role, StateLostKind.INSTANCE_DIED, `${role} instance ${instanceId} is gone`),
        );
      }
    }
    for (const [topic, members] of this.d.rooms.publisherDown(instanceId)) {
      if (ChannelHub.isChannelTopic(topic)) {
        this.d.channels.closed(topic, `no ${role} instance is left (${instanceId} is gone): subscribe again`);
        continue;
      }
      for (const m of members)
        this.pushToSession(
          m,
          events.roomClosed(topic.slice(topic.indexOf('/') + 1), `owner ${instanceId} is gone: rejoin`),
        );
    }
  }

  remove(conn: BrokerConn): void {
    this.d.rooms.removeMember(conn);
    this.d.channels.removeMember(conn);
    if (!conn.session) return;
    const conns = this.bySession.get(conn.session.sessionId);
    conns?.delete(conn);
    if (conns?.size === 0) this.bySession.delete(conn.session.sessionId);
  }

  private async login(conn: BrokerConn, d: Extract<Directive, { type: 'auth' }>): Promise<void> {
    if (conn.session && conn.session.sessionId !== d.sessionId) this.logout(conn);
    // A new login is a new stream: a subscription to the old one does not carry over.
    if (conn.session?.sessionId !== d.sessionId) this.d.delivery.forget(conn);
    conn.login({ sessionId: d.sessionId, userId: d.userId, username: d.username });
    // One live connection per session: a resume on a new connection closes the old one (which
    // is told why), so a session never acts from two sockets. Closing removes it from the map.
    for (const old of [...(this.bySession.get(d.sessionId) ?? [])]) {
      if (old === conn) continue;
      old.deliver(events.kicked('session resumed on another connection'));
      old.conn.close('single socket: session resumed on another connection', true);
    }
    let conns = this.bySession.get(d.sessionId);
    if (!conns) {
      conns = new Set();
      this.bySession.set(d.sessionId, conns);
    }
    conns.add(conn);
    this.d.store.setBroker(d.sessionId, this.d.instanceId);
    // A resumed session keeps its stateful bindings, even when it was made on another broker.
    const stored = await this.d.store.bindings(d.sessionId);
    for (const [role, id] of stored) if (!conn.bindings.has(role)) conn.setBinding(role, id);
    // And its rooms: a member again before the resume is answered (the client then catches up).
    // With the store unreachable, the rooms are joined when it answers again (in the background).
    const rooms = await this.d.memberships.rooms(d.sessionId);
    if (rooms) for (const [topic, role] of rooms) this.joinRoom(conn, topic, role);
    else
      void this.d.memberships.restore(
        d.sessionId,
        () => !conn.conn.closed && conn.session?.sessionId === d.sessionId,
        (topic, role) => this.joinRoom(conn, topic, role),
      );
  }

  private logout(conn: BrokerConn): void {
    this.d.delivery.forget(conn);
    this.remove(conn);
    conn.logout();
  }

  private setBinding(sessionId: string, role: string, instanceId: string | undefined): void {
    for (const conn of this.bySession.get(sessionId) ?? []) conn.setBinding(role, instanceId);
    this.d.store.setBinding(sessionId, role, instanceId);
  }

  private subscribe(conn: BrokerConn, topic: string, publisherId: string): void {
    const publisher = this.d.table().instance(publisherId);
    if (!publisher?.endpoints.pub) {
      this.pushToSession(
        conn,
        events.roomClosed(topic.slice(topic.indexOf('/') + 1), `owner ${publisherId} is not live: rejoin`),
      );
      return;
    }
    this.d.rooms.subscribe(topic, publisher.role, conn);
    if (conn.session) this.d.memberships.set(conn.session.sessionId, topic, publisher.role);
  }

  private subscribeChannel(conn: BrokerConn, d: Extract<Directive, { type: 'channel' }>): void {
    const publisher = this.d.table().instance(d.instanceId);
    const channel = d.topic.slice(d.topic.indexOf('/') + 1);
    if (!publisher?.endpoints.pub) {
      conn.deliver(events.channelClosed(channel, `owner ${d.instanceId} is not live: subscribe again`));
      return;
    }
    this.d.channels.subscribe(conn, d.topic, publisher.role, d.filter, d.afterSeq);
  }

  /** A stored membership: the room's messages come from any live instance of its role. */
  private joinRoom(conn: BrokerConn, topic: string, role: string): void {
    if (this.d.rooms.topicsOf(conn).includes(topic)) return;
    this.d.rooms.subscribe(topic, role, conn);
  }
}
