/**
 * Sso handlers: register, login, resume, logout, device (guest) login and its upgrade. Every
 * success makes the caller's connection logged in.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Db } from '../../shared/data/sql';
import { ErrorCode, GameError, Session, type Sso } from '../../shared/protocol';
import type { CallContext, WithContext } from '../../rpc/api';
import type { PasswordHasher } from './password';
import type { LoginLimiter } from './ratelimit';
import type { SessionRecord, SessionStore } from './sessions';
import {
  findUser,
  findUserByDevice,
  findUserById,
  insertDeviceUser,
  insertUser,
  markProfileReady,
  upgradeDeviceUser,
  type UserRow,
} from './users';

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
/** A device id: long enough to be unguessable when random (a UUID, 16+ random bytes in base64url). */
const DEVICE_ID = /^[A-Za-z0-9_-]{16,128}$/;
export const DEVICE_ID_RULE = 'deviceId must be 16-128 characters of A-Z a-z 0-9 _ - and look random';
/** Guest names hold a '#', which registered names cannot: the two never collide. */
const GUEST_PREFIX = 'guest#';

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

/**
 * Whether a device id may be used: the shape, and a plausibility check against placeholders —
 * enough distinct characters (a quarter of its length, up to 8) and no short repeated pattern
 * ("0000000000000000", "abababababababab", "1234123412341234"). A random id of 16 hex digits or
 * more fails it with a probability below 1e-8.
 */
export function validDeviceId(id: string): boolean {
  if (!DEVICE_ID.test(id)) return false;
  if (new Set(id).size < Math.min(8, Math.floor(id.length / 4))) return false;
  for (let p = 1; p <= 8 && p <= id.length / 2; p++) if (id.slice(p) === id.slice(0, id.length - p)) return false;
  return true;
}

export function deviceIdHash(deviceId: string): string {
  return createHash('sha256').update(`sso-device:${deviceId}`).digest('hex');
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
  // Never refused because of the account's failures elsewhere: at worst slowed (ratelimit.ts).
  const attempt = await core.logins.begin(account, conn);
  let user: UserRow | undefined;
  let ok: boolean;
  try {
    user = username.length <= 32 && password.length <= MAX_PASSWORD ? await findUser(core.db, username) : undefined;
    // A device account has no password yet ('' verifies nothing, and costs a burn like an unknown user).
    ok = user === undefined ? await core.hasher.burn(password) : await core.hasher.verify(password, user.passwordHash);
  } catch (err) {
    await attempt.abandoned();
    throw err;
  }
  if (!ok || user === undefined || user.passwordHash === '') {
    await attempt.failed();
    throw gameError(ErrorCode.INVALID_CREDENTIALS, BAD_CREDENTIALS);
  }
  await attempt.succeeded();
  await ensureProfile(core, user, ctx);
  return startSession(core, user.userId, user.username, ctx);
}

/** A new device account; the insert settles a race with another first login of the same device. */
async function deviceUser(core: SsoCore, hash: string): Promise<UserRow> {
  for (let i = 0; i < 3; i++) {
    const userId = randomUUID();
    const username = `${GUEST_PREFIX}${randomBytes(6).toString('hex')}`;
    if (await insertDeviceUser(core.db, userId, username, hash))
      return { userId, username, passwordHash: '', profileReady: false, deviceBound: true };
    const existing = await findUserByDevice(core.db, hash);
    if (existing !== undefined) return existing;
    // else the random guest name was taken: draw another
  }
  throw new Error('could not pick a free guest name');
}

async function loginDevice(core: SsoCore, deviceId: string, ctx: CallContext): Promise<Session> {
  if (!validDeviceId(deviceId)) throw gameError(ErrorCode.BAD_REQUEST, DEVICE_ID_RULE);
  await core.logins.admitConnection(connectionKey(ctx));
  const hash = deviceIdHash(deviceId);
  const user = (await findUserByDevice(core.db, hash)) ?? (await deviceUser(core, hash));
  if (user.passwordHash !== '')
    throw gameError(
      ErrorCode.FORBIDDEN,
      'this device account was upgraded to a password account: log in with its username and password',
    );
  await ensureProfile(core, user, ctx);
  return startSession(core, user.userId, user.username, ctx);
}

async function upgradeDevice(core: SsoCore, username: string, password: string, ctx: CallContext): Promise<Session> {
  if (ctx.userId.length === 0 || ctx.sessionId.length === 0)
    throw gameError(ErrorCode.UNAUTHENTICATED, 'not logged in');
  checkNew(username, password);
  await core.logins.admitConnection(connectionKey(ctx));
  const user = await findUserById(core.db, ctx.userId);
  if (user === undefined || !user.deviceBound || user.passwordHash !== '')
    throw gameError(ErrorCode.FORBIDDEN, 'only a device account without a password can be upgraded');
  // Checked before hashing so a taken name costs no scrypt; the update below settles races.
  if ((await findUser(core.db, username)) !== undefined) throw gameError(ErrorCode.ALREADY_EXISTS, 'username is taken');
  const hash = await core.hasher.hash(password);
  const upgraded = await upgradeDeviceUser(core.db, user.userId, username, hash);
  if (upgraded === 'taken') throw gameError(ErrorCode.ALREADY_EXISTS, 'username is taken');
  if (upgraded === 'not_device')
    throw gameError(ErrorCode.FORBIDDEN, 'only a device account without a password can be upgraded');
  // Other sessions were opened with the device id, which no longer logs in: they end. This one
  // goes on (same sessionId, so bindings and rooms stay) under the new name and a new token.
  await core.sessions.revokeOthers(user.userId, ctx.sessionId);
  const rotated = await core.sessions.rotate(ctx.sessionId, user.userId, username);
  if (rotated !== undefined) return authenticated(rotated.record, rotated.token, ctx);
  return startSession(core, user.userId, username, ctx); // this session ended meanwhile: a new one
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
    // clientProtocol is the broker's to check (broker/client-version.ts)
    register: (username, password, _clientProtocol, ctx) => register(core, username, password, ctx),
    login: (username, password, _clientProtocol, ctx) => login(core, username, password, ctx),
    resume: (token, _clientProtocol, ctx) => resume(core, token, ctx),
    logout: (ctx) => logout(core, ctx),
    loginDevice: (deviceId, _clientProtocol, ctx) => loginDevice(core, deviceId, ctx),
    upgradeDevice: (username, password, ctx) => upgradeDevice(core, username, password, ctx),
  };
}
