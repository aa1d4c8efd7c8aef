/**
 * sso_users SQL; every function takes a Queryable. Usernames are unique case-insensitively.
 * A device (guest) account has a device id hash and an empty password hash; once upgraded it has
 * both (the device binding stays, so the device cannot make a second guest account).
 */
import { sqlState, type Queryable } from '../../shared/data/sql';

export interface UserRow {
  userId: string;
  username: string;
  /** '' for a device account that has not been upgraded: no password verifies against it */
  passwordHash: string;
  profileReady: boolean;
  /** made by Sso:loginDevice */
  deviceBound: boolean;
}

interface RawUser {
  user_id: string;
  username: string;
  password_hash: string;
  profile_ready: boolean;
  device_bound: boolean;
}

const USER_COLS = 'user_id, username, password_hash, profile_ready, device_id_hash IS NOT NULL AS device_bound';

function userOf(u: RawUser | undefined): UserRow | undefined {
  return u === undefined
    ? undefined
    : {
        userId: u.user_id,
        username: u.username,
        passwordHash: u.password_hash,
        profileReady: u.profile_ready,
        deviceBound: u.device_bound,
      };
}

export async function findUser(q: Queryable, username: string): Promise<UserRow | undefined> {
  const r = await q.query<RawUser>(`SELECT ${USER_COLS} FROM sso_users WHERE lower(username) = lower($1)`, [username]);
  return userOf(r.rows[0]);
}

export async function findUserById(q: Queryable, userId: string): Promise<UserRow | undefined> {
  const r = await q.query<RawUser>(`SELECT ${USER_COLS} FROM sso_users WHERE user_id = $1`, [userId]);
  return userOf(r.rows[0]);
}

export async function findUserByDevice(q: Queryable, deviceIdHash: string): Promise<UserRow | undefined> {
  const r = await q.query<RawUser>(`SELECT ${USER_COLS} FROM sso_users WHERE device_id_hash = $1`, [deviceIdHash]);
  return userOf(r.rows[0]);
}

/** False when the device (or, by a 48-bit accident, the guest name) already has an account. */
export async function insertDeviceUser(
  q: Queryable,
  userId: string,
  username: string,
  deviceIdHash: string,
): Promise<boolean> {
  const r = await q.query(
    `INSERT INTO sso_users (user_id, username, password_hash, device_id_hash) VALUES ($1, $2, '', $3)
     ON CONFLICT DO NOTHING RETURNING user_id`,
    [userId, username, deviceIdHash],
  );
  return r.rows.length > 0;
}

/**
 * A device account gets its username and password: 'taken' when the name is (in any letter case),
 * 'not_device' when the user is not a device account still without a password.
 */
export async function upgradeDeviceUser(
  q: Queryable,
  userId: string,
  username: string,
  passwordHash: string,
): Promise<'ok' | 'taken' | 'not_device'> {
  try {
    const r = await q.query(
      `UPDATE sso_users SET username = $2, password_hash = $3
       WHERE user_id = $1 AND device_id_hash IS NOT NULL AND password_hash = '' RETURNING user_id`,
      [userId, username, passwordHash],
    );
    return r.rows.length > 0 ? 'ok' : 'not_device';
  } catch (err) {
    if (sqlState(err) === '23505') return 'taken'; // unique_violation: sso_users_username
    throw err;
  }
}

/** False when the username (in any letter case) is taken, also by a concurrent register. */
export async function insertUser(
  q: Queryable,
  userId: string,
  username: string,
  passwordHash: string,
): Promise<boolean> {
  const r = await q.query(
    'INSERT INTO sso_users (user_id, username, password_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING user_id',
    [userId, username, passwordHash],
  );
  return r.rows.length > 0;
}

export async function markProfileReady(q: Queryable, userId: string): Promise<void> {
  await q.query('UPDATE sso_users SET profile_ready = true WHERE user_id = $1', [userId]);
}
