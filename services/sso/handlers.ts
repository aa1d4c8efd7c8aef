/** Sso handlers: register, login, resume, logout. Every success makes the caller's connection logged in. */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../shared/data/sql';
import { ErrorCode, GameError, Session, type Sso } from '../../shared/protocol';
import type { CallContext, WithContext } from '../../rpc/api';
import type { PasswordHasher } from './password';
import type { LoginLimiter } from './ratelimit';
import type { SessionRecord, SessionStore } from './sessions';
import { findUser, insertUser, markProfileReady, type UserRow } from './users';

export interface SsoCore {
  db: Db;
  hasher: PasswordHasher;
  sessions: SessionStore;
  logins: LoginLimiter;
  /** closes the session's connection on another broker, if it has one (single socket) */
  kickElsewhere(sessionId: string, via: string): Promise<void>;
}

const USERNAME = /^[A-Za-z0-9_.-]{3,32}$/;
export const MIN_PASSWORD = 8;
/** Long enough for any passphrase; bounds the bytes fed to scrypt. */
export const MAX_PASSWORD = 256;
/** Same answer for an unknown user and a wrong password: it must not reveal which usernames exist. */
const BAD_CREDENTIALS = 'invalid username or password';

function gameError(code: ErrorCode, message: string, retryable = false): GameError {
  return new GameError({ code, message, retryable });
}

function checkNew(username: string, password: string): void {
  if (!USERNAME.test(username))
    throw gameError(ErrorCode.BAD_REQUEST, 'username must be 3-32 characters of A-Z a-z 0-9 _ . -');
  if ([...password].length < MIN_PASSWORD || password.length > MAX_PASSWORD) {
    throw gameError(ErrorCode.BAD_REQUEST, `password must be ${MIN_PASSWORD}-${MAX_PASSWORD} characters`);
  }
}

/** The player profile is created through the player service; idempotent, so login can repair it. */
async function ensureProfile(
  core: SsoCore,
  user: Pick<UserRow, 'userId' | 'username' | 'profileReady'>,
  ctx: CallContext,
): Promise<void> {
  if (user.profileReady) return;
  await ctx.services.player.createProfile(user.userId, user.username);
  await markProfileReady(core.db, user.userId);
}

async function startSession(core: SsoCore, userId: string, username: string, ctx: CallContext): Promise<Session> {
  const { record, token } = await core.sessions.create(userId, username);
  return authenticated(record, token, ctx);
}

function authenticated(rec: SessionRecord, token: string, ctx: CallContext): Session {
  ctx.authenticate({ sessionId: rec.sessionId, userId: rec.userId, username: rec.username });
  return new Session({
    sessionId: rec.sessionId,
    userId: rec.userId,
    username: rec.username,
    token,
    expiresAtMs: rec.expiresAtMs,
  });
}

async function register(core: SsoCore, username: string, password: string, ctx: CallContext): Promise<Session> {
  checkNew(username, password);
  // Checked before hashing so a taken name costs no scrypt; the insert below settles races.
  if ((await findUser(core.db, username)) !== undefined) throw gameError(ErrorCode.ALREADY_EXISTS, 'username is taken');
  const hash = await core.hasher.hash(password);
  const userId = randomUUID();
  if (!(await insertUser(core.db, userId, username, hash)))
    throw gameError(ErrorCode.ALREADY_EXISTS, 'username is taken');
  // If the player service fails here the user exists without a profile; login creates it.
  await ensureProfile(core, { userId, username, profileReady: false }, ctx);
  return startSession(core, userId, username, ctx);
}

/** Identifies the caller's connection before login: the broker sends 'anon:<broker>:<conn>'. */
function connectionKey(ctx: CallContext): string {
  return ctx.sessionId.length > 0 ? ctx.sessionId : `via:${ctx.via}`;
}

async function login(core: SsoCore, username: string, password: string, ctx: CallContext): Promise<Session> {
  const conn = connectionKey(ctx);
  // Usernames longer than any valid one are cut: the counter key stays bounded.
  const account = username.slice(0, 32);
  await core.logins.admit(account, conn);
  const user = username.length <= 32 && password.length <= MAX_PASSWORD ? await findUser(core.db, username) : undefined;
  const ok =
    user === undefined ? await core.hasher.burn(password) : await core.hasher.verify(password, user.passwordHash);
  if (!ok || user === undefined) {
    throw gameError(ErrorCode.INVALID_CREDENTIALS, BAD_CREDENTIALS);
  }
  await core.logins.succeeded(account);
  await ensureProfile(core, user, ctx);
  return startSession(core, user.userId, user.username, ctx);
}

async function resume(core: SsoCore, token: string, ctx: CallContext): Promise<Session> {
  // Same sessionId as before: stateful services' bindings are keyed by it. The token is not
  // rotated, because resume is retried on another instance when one dies mid-call.
  const rec = await core.sessions.resolve(token);
  await core.kickElsewhere(rec.sessionId, ctx.via);
  return authenticated(rec, token, ctx);
}

async function logout(core: SsoCore, ctx: CallContext): Promise<void> {
  if (ctx.userId.length === 0 || ctx.sessionId.length === 0)
    throw gameError(ErrorCode.UNAUTHENTICATED, 'not logged in');
  await core.sessions.revoke(ctx.sessionId);
  ctx.logout();
}

export function ssoHandlers(core: SsoCore): WithContext<Omit<Sso.IHandler, 'ping'>> {
  return {
    register: (username, password, ctx) => register(core, username, password, ctx),
    login: (username, password, ctx) => login(core, username, password, ctx),
    resume: (token, ctx) => resume(core, token, ctx),
    logout: (ctx) => logout(core, ctx),
  };
}
