/**
 * Who may use the console: a holder of the cluster's admin token (NOON_ADMIN_TOKEN). A browser
 * logs in once with the token and gets a random console session in an HttpOnly, SameSite=Strict
 * cookie (so the page's script never holds the token); a script sends the token itself as
 * `Authorization: Bearer`. Console sessions live in memory and end after `ttlMs` or at logout.
 * A state-changing request (POST) must be JSON from the console's own origin, so another site
 * cannot make a logged-in browser drain an instance.
 */
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { checkAdmin } from '../shared/tap/admin-token';

export const COOKIE = 'noon_console';
/** console sessions kept at most; the oldest goes first */
const MAX_SESSIONS = 1000;

export type Verdict = { ok: true } | { ok: false; status: 401 | 403; reason: string };

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export class ConsoleAuth {
  /** digest of the session id -> expiry (epoch ms); ids themselves are not kept */
  private readonly sessions = new Map<string, number>();

  constructor(
    private readonly adminToken: string,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether `given` is the admin token (constant time, over digests). */
  tokenMatches(given: unknown): boolean {
    return typeof given === 'string' && given !== '' && timingSafeEqual(digest(given), digest(this.adminToken));
  }

  /** A new console session; the Set-Cookie header that carries it. */
  open(secure: boolean): string {
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(digest(id).toString('hex'), this.now() + this.ttlMs);
    if (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value as string);
    return `${COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(this.ttlMs / 1000)}${secure ? '; Secure' : ''}`;
  }

  /** Ends the request's console session; the Set-Cookie header that clears the cookie. */
  close(req: IncomingMessage): string {
    const id = cookieOf(req, COOKIE);
    if (id !== undefined) this.sessions.delete(digest(id).toString('hex'));
    return `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
  }

  /** A request carrying a live console session cookie, or the admin token as a bearer. */
  check(req: IncomingMessage): Verdict {
    if (req.headers.authorization !== undefined) {
      const v = checkAdmin(req, this.adminToken);
      return v.ok ? v : { ok: false, status: v.status, reason: v.reason };
    }
    const id = cookieOf(req, COOKIE);
    if (id === undefined)
      return { ok: false, status: 401, reason: 'log in with the admin token (NOON_ADMIN_TOKEN) first' };
    const key = digest(id).toString('hex');
    const until = this.sessions.get(key);
    if (until === undefined || until <= this.now()) {
      this.sessions.delete(key);
      return { ok: false, status: 401, reason: 'the console session ended: log in again' };
    }
    return { ok: true };
  }
}

/**
 * A POST the console accepts: a JSON body, and an Origin (when the browser sends one, which it
 * does for every cross-site POST) equal to the console's own.
 */
export function sameOriginJson(req: IncomingMessage): string | undefined {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) return 'a console POST has a JSON body (Content-Type: application/json)';
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      return `the Origin ${JSON.stringify(origin)} is not a URL`;
    }
    if (host !== req.headers.host) return `a POST from another origin (${origin}) is refused`;
  }
  return undefined;
}
