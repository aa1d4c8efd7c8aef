/**
 * The admin credential of the endpoints on a role's metrics port: `Authorization: Bearer <token>`
 * equal to NOON_ADMIN_TOKEN. Compared in constant time (over digests, so the length does not
 * leak either); the token is never logged nor echoed. Without a configured token every request
 * is refused: an admin endpoint is never open by default.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export type AdminVerdict = { ok: true } | { ok: false; status: 401 | 403; reason: string };

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export function checkAdmin(req: IncomingMessage, token: string | undefined): AdminVerdict {
  if (token === undefined)
    return { ok: false, status: 403, reason: 'admin endpoints are off: this instance has no NOON_ADMIN_TOKEN' };
  const header = req.headers.authorization;
  const given = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
  if (given === undefined || given === '')
    return { ok: false, status: 401, reason: 'an admin token is required: Authorization: Bearer <NOON_ADMIN_TOKEN>' };
  if (!timingSafeEqual(digest(given), digest(token)))
    return { ok: false, status: 403, reason: 'the admin token does not match' };
  return { ok: true };
}
