/** sso_users SQL; every function takes a Queryable. Usernames are unique case-insensitively. */
import type { Queryable } from '../../shared/data/sql';

export interface UserRow {
  userId: string;
  username: string;
  passwordHash: string;
  profileReady: boolean;
}

interface RawUser {
  user_id: string;
  username: string;
  password_hash: string;
  profile_ready: boolean;
}

export async function findUser(q: Queryable, username: string): Promise<UserRow | undefined> {
  const r = await q.query<RawUser>(
    'SELECT user_id, username, password_hash, profile_ready FROM sso_users WHERE lower(username) = lower($1)',
    [username],
  );
  const u = r.rows[0];
  return u === undefined
    ? undefined
    : { userId: u.user_id, username: u.username, passwordHash: u.password_hash, profileReady: u.profile_ready };
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
