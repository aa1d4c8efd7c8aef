/**
 * Sessions: Postgres is the truth, Kv caches valid sessions by token hash (cache-aside).
 *
 * - A token is 32 bytes from crypto.randomBytes (256 bits), base64url; the row stores its
 *   SHA-256 only. The sessionId is separate and stable: stateful services key bindings by it.
 * - A session expires at a fixed time (NOON_SESSION_TTL_MS) and can be revoked (logout).
 * - Revocation writes Postgres first, then drops the cached copy. If the Kv is unreachable at
 *   that moment, another sso instance may still accept the token from its cache for at most
 *   `cacheMs` (this instance remembers the failed invalidation and reads Postgres meanwhile).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Cache } from '../../shared/data/cache';
import type { Db } from '../../shared/data/sql';
import { ErrorCode, GameError } from '../../shared/protocol';

export interface SessionRecord {
  sessionId: string;
  userId: string;
  username: string;
  expiresAtMs: number;
}

export interface SessionOptions {
  ttlMs: number;
  /** the clock (epoch ms); tests move it to expire sessions without waiting */
  now?: () => number;
}

const TOKEN_BYTES = 32;
/** base64url of 32 bytes, no padding: exactly 43 characters. Anything else is not ours. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

interface RawSession {
  session_id: string;
  user_id: string;
  username: string;
  expires_at_ms: unknown;
  revoked: boolean;
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function unauthenticated(): GameError {
  return new GameError({
    code: ErrorCode.UNAUTHENTICATED,
    message: 'session is invalid, expired or revoked; log in again',
    retryable: false,
  });
}

const cacheKey = (hash: string): string => `sso:session:${hash}`;

export class SessionStore {
  private readonly now: () => number;

  constructor(
    private readonly db: Db,
    private readonly cache: Cache,
    private readonly opts: SessionOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  async create(userId: string, username: string): Promise<{ record: SessionRecord; token: string }> {
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const record: SessionRecord = {
      sessionId: `s-${randomBytes(16).toString('hex')}`,
      userId,
      username,
      expiresAtMs: this.now() + this.opts.ttlMs,
    };
    await this.db.query(
      'INSERT INTO sso_sessions (session_id, user_id, username, token_hash, expires_at_ms) VALUES ($1, $2, $3, $4, $5)',
      [record.sessionId, userId, username, tokenHash(token), record.expiresAtMs],
    );
    return { record, token };
  }

  /** The live session of a token, else UNAUTHENTICATED (never says which check failed). */
  async resolve(token: string): Promise<SessionRecord> {
    if (!TOKEN_SHAPE.test(token)) throw unauthenticated();
    const hash = tokenHash(token);
    const rec = await this.cache.getOrLoad(cacheKey(hash), () => this.load(hash));
    // The cached copy may outlive the session: expiry is checked on every use.
    if (rec.expiresAtMs <= this.now()) throw unauthenticated();
    return rec;
  }

  private async load(hash: string): Promise<SessionRecord> {
    const r = await this.db.query<RawSession>(
      'SELECT session_id, user_id, username, expires_at_ms, revoked FROM sso_sessions WHERE token_hash = $1',
      [hash],
    );
    const row = r.rows[0];
    if (row === undefined || row.revoked) throw unauthenticated();
    const expiresAtMs = Number(row.expires_at_ms);
    if (!(expiresAtMs > this.now())) throw unauthenticated();
    return { sessionId: row.session_id, userId: row.user_id, username: row.username, expiresAtMs };
  }

  /**
   * The same session under a new token and username (a device account upgraded): the old token
   * stops working at once. Undefined when the session is not live (revoked, expired, not this user's).
   */
  async rotate(
    sessionId: string,
    userId: string,
    username: string,
  ): Promise<{ record: SessionRecord; token: string } | undefined> {
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const r = await this.db.query<{ old_hash: string; expires_at_ms: unknown }>(
      // the self-join hands back the row as it was: the old hash, to drop from the cache
      `UPDATE sso_sessions s SET token_hash = $4, username = $3
       FROM sso_sessions o
       WHERE o.session_id = $1 AND s.session_id = o.session_id AND s.user_id = $2 AND NOT s.revoked
         AND s.expires_at_ms > $5
       RETURNING o.token_hash AS old_hash, s.expires_at_ms`,
      [sessionId, userId, username, tokenHash(token), this.now()],
    );
    const row = r.rows[0];
    if (row === undefined) return undefined;
    await this.cache.invalidate(cacheKey(row.old_hash));
    return { record: { sessionId, userId, username, expiresAtMs: Number(row.expires_at_ms) }, token };
  }

  /** Revokes every live session of a user but one (Postgres first, then the cache). */
  async revokeOthers(userId: string, keepSessionId: string): Promise<number> {
    const r = await this.db.query<{ token_hash: string }>(
      'UPDATE sso_sessions SET revoked = true WHERE user_id = $1 AND session_id <> $2 AND NOT revoked RETURNING token_hash',
      [userId, keepSessionId],
    );
    for (const row of r.rows) await this.cache.invalidate(cacheKey(row.token_hash));
    return r.rows.length;
  }

  /** Revokes a session (Postgres first, then the cache). */
  async revoke(sessionId: string): Promise<void> {
    const r = await this.db.query<{ token_hash: string }>(
      'UPDATE sso_sessions SET revoked = true WHERE session_id = $1 RETURNING token_hash',
      [sessionId],
    );
    for (const row of r.rows) await this.cache.invalidate(cacheKey(row.token_hash));
  }
}
