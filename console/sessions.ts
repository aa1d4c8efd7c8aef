/**
 * The console's session lookup: a user id, a username or a session id -> the user, their latest
 * sessions (sso's tables in Postgres, the truth), and for each session what the brokers keep in
 * the shared store: the broker holding it, its bindings (role -> instance) and its rooms (topic ->
 * role). Token and password hashes are never selected, so they cannot reach the page.
 */
import type { Kv } from '../shared/data/kv';
import { sqlState, type Queryable } from '../shared/data/sql';
import { BROKER_FIELD, PUSH_SEQ_FIELD, sessionKey } from '../shared/session-keys';

/** sessions shown per user, newest first */
export const SESSIONS_SHOWN = 10;
const MAX_QUERY = 200;

export interface SessionView {
  sessionId: string;
  createdAt: string;
  expiresAtMs: number;
  expired: boolean;
  revoked: boolean;
  /** the broker the session was last opened on, and whether Yellow lists it now */
  broker?: { instanceId: string; alive: boolean };
  /** role -> instance id, with whether that instance is alive */
  bindings: Array<{ role: string; instanceId: string; alive: boolean }>;
  /** topic -> the role that publishes it */
  rooms: Array<{ topic: string; role: string }>;
  /** the last push sequence number sent to the session */
  pushSeq?: number;
}

export interface LookupAnswer {
  query: string;
  user?: { userId: string; username: string; createdAt: string; guest: boolean };
  sessions: SessionView[];
}

/** A lookup the console refuses, with the reason (answered as 400). */
export class LookupError extends Error {}

interface UserRow {
  user_id: string;
  username: string;
  created_at: unknown;
  guest: boolean;
}

interface SessionRow {
  session_id: string;
  user_id: string;
  created_at: unknown;
  expires_at_ms: unknown;
  revoked: boolean;
}

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));

export interface SessionLookupOptions {
  db: Queryable;
  kv: Kv;
  /** whether Yellow lists an instance now */
  isAlive: (instanceId: string) => boolean;
  now?: () => number;
}

export class SessionLookup {
  constructor(private readonly o: SessionLookupOptions) {}

  async lookup(raw: string): Promise<LookupAnswer> {
    const query = raw.trim();
    if (query === '') throw new LookupError('give a user id, a username or a session id');
    if (query.length > MAX_QUERY) throw new LookupError(`a lookup is at most ${MAX_QUERY} characters`);
    try {
      return await this.find(query);
    } catch (err) {
      if (sqlState(err) === '42P01')
        throw new LookupError(
          "this cluster's database has no sso tables (sso_users, sso_sessions): is sso one of its services?",
        );
      throw err;
    }
  }

  private async find(query: string): Promise<LookupAnswer> {
    const { db } = this.o;
    const bySession = await db.query<SessionRow>(
      'SELECT session_id, user_id, created_at, expires_at_ms, revoked FROM sso_sessions WHERE session_id = $1',
      [query],
    );
    const userId = bySession.rows[0]?.user_id;
    const users = await db.query<UserRow>(
      `SELECT user_id, username, created_at, device_id_hash IS NOT NULL AND password_hash = '' AS guest
         FROM sso_users WHERE user_id = $1 OR lower(username) = lower($1) LIMIT 1`,
      [userId ?? query],
    );
    const u = users.rows[0];
    if (!u) return { query, sessions: [] };
    const rows = bySession.rows[0]
      ? bySession.rows
      : (
          await db.query<SessionRow>(
            `SELECT session_id, user_id, created_at, expires_at_ms, revoked FROM sso_sessions
              WHERE user_id = $1 ORDER BY created_at DESC, session_id LIMIT ${SESSIONS_SHOWN}`,
            [u.user_id],
          )
        ).rows;
    return {
      query,
      user: { userId: u.user_id, username: u.username, createdAt: iso(u.created_at), guest: u.guest },
      sessions: await Promise.all(rows.map((r) => this.sessionOf(r))),
    };
  }

  private async sessionOf(r: SessionRow): Promise<SessionView> {
    const { kv, isAlive } = this.o;
    const now = (this.o.now ?? Date.now)();
    const [record, rooms] = await Promise.all([
      kv.hgetall(sessionKey(r.session_id)),
      kv.hgetall(`${sessionKey(r.session_id)}:rooms`),
    ]);
    const bindings: SessionView['bindings'] = [];
    for (const [field, instanceId] of Object.entries(record))
      if (field.startsWith('bind:')) bindings.push({ role: field.slice(5), instanceId, alive: isAlive(instanceId) });
    bindings.sort((a, b) => a.role.localeCompare(b.role));
    const broker = record[BROKER_FIELD];
    const pushSeq = record[PUSH_SEQ_FIELD];
    const expiresAtMs = Number(r.expires_at_ms);
    return {
      sessionId: r.session_id,
      createdAt: iso(r.created_at),
      expiresAtMs,
      expired: expiresAtMs <= now,
      revoked: r.revoked,
      ...(broker !== undefined ? { broker: { instanceId: broker, alive: isAlive(broker) } } : {}),
      bindings,
      rooms: Object.entries(rooms)
        .map(([topic, role]) => ({ topic, role }))
        .sort((a, b) => a.topic.localeCompare(b.topic)),
      ...(pushSeq !== undefined && Number.isFinite(Number(pushSeq)) ? { pushSeq: Number(pushSeq) } : {}),
    };
  }
}
