/**
 * What the broker keeps per client connection: the session it is logged in as, its bindings to
 * stateful instances (role -> instance id), and its strikes. The edge's ClientConn knows only
 * whether it is logged in (for its login deadline).
 */
import type { ClientConn } from '../edge/client-conn';
import type { SharedPush } from '../edge/shared-push';
import type { SessionView } from './route';

export interface SessionInfo {
  sessionId: string;
  userId: string;
  username: string;
}

/** What a connection with no bindings reports: one shared empty map. */
const NO_BINDINGS: ReadonlyMap<string, string> = new Map();

export class BrokerConn {
  private sessionValue: SessionInfo | undefined;
  /** made on the first binding: an empty Map is ~180 bytes, on every idle connection */
  private bindingsByRole: Map<string, string> | undefined;
  private strikeCount = 0;
  /** whether ONEWAY pushes are written to this connection (it called Events:subscribe) */
  private pushesWanted = false;

  constructor(readonly conn: ClientConn) {}

  get id(): string {
    return this.conn.id;
  }

  get session(): SessionInfo | undefined {
    return this.sessionValue;
  }

  get bindings(): ReadonlyMap<string, string> {
    return this.bindingsByRole ?? NO_BINDINGS;
  }

  get strikes(): number {
    return this.strikeCount;
  }

  /** What route() sees. */
  view(): SessionView {
    const s = this.sessionValue;
    return { sessionId: s?.sessionId ?? '', userId: s?.userId ?? '', bindings: this.bindings };
  }

  login(session: SessionInfo): void {
    this.sessionValue = session;
    this.conn.setAuthenticated(true);
  }

  logout(): void {
    this.sessionValue = undefined;
    this.bindingsByRole = undefined;
    this.conn.setAuthenticated(false);
  }

  /** `instanceId` undefined drops the binding. */
  setBinding(role: string, instanceId: string | undefined): void {
    if (instanceId === undefined) this.bindingsByRole?.delete(role);
    else (this.bindingsByRole ??= new Map()).set(role, instanceId);
  }

  /** Counts one strike; returns the count so far. */
  strike(): number {
    return ++this.strikeCount;
  }

  get wantsPushes(): boolean {
    return this.pushesWanted;
  }

  wantPushes(on: boolean): void {
    this.pushesWanted = on;
  }

  /**
   * Writes a push, only to a connection that asked for pushes: any other Thrift client would
   * read an unsolicited ONEWAY as the reply to its call (it reads the stream with Events:poll).
   * False only when the connection is cut off. One that has not asked yet (a resume is answered
   * before the client's Events:subscribe arrives) stays a member of its rooms: it skips this
   * message, which its catch-up after the subscribe reads from history.
   */
  deliver(message: Buffer | SharedPush, now?: number): boolean {
    if (!this.pushesWanted) return !this.conn.closed;
    return this.conn.deliver(message, now);
  }
}
