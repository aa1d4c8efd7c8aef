/**
 * Who may use the console: the admin token as a bearer, or a console session cookie got by
 * logging in with it (HttpOnly, SameSite=Strict, ending after its lifetime or at logout); a
 * POST only as JSON from the console's own origin.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { ConsoleAuth, COOKIE, sameOriginJson } from '../../console/auth';

const TOKEN = 'unit-admin-token-0123456789';
const req = (headers: Record<string, string>): IncomingMessage => ({ headers }) as unknown as IncomingMessage;
const cookieOf = (setCookie: string): string => setCookie.split(';')[0] as string;

test('no credential is 401; a wrong token 403; the token as a bearer passes', () => {
  const auth = new ConsoleAuth(TOKEN, 60_000);
  assert.deepEqual(auth.check(req({})), {
    ok: false,
    status: 401,
    reason: 'log in with the admin token (NOON_ADMIN_TOKEN) first',
  });
  const wrong = auth.check(req({ authorization: 'Bearer not-the-token' }));
  assert.equal(wrong.ok ? 0 : wrong.status, 403);
  assert.ok(wrong.ok || !wrong.reason.includes(TOKEN), 'the reason never echoes a token');
  assert.deepEqual(auth.check(req({ authorization: `Bearer ${TOKEN}` })), { ok: true });
  assert.equal(auth.tokenMatches(TOKEN), true);
  assert.equal(auth.tokenMatches(`${TOKEN}x`), false);
  assert.equal(auth.tokenMatches(''), false);
  assert.equal(auth.tokenMatches(undefined), false);
});

test('a console session: HttpOnly SameSite=Strict cookie, ends at its lifetime and at logout', () => {
  let now = 1_000_000;
  const auth = new ConsoleAuth(TOKEN, 60_000, () => now);
  const set = auth.open(false);
  assert.match(set, new RegExp(`^${COOKIE}=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=/; Max-Age=60$`));
  assert.ok(!set.includes(TOKEN), 'the cookie is not the token');
  const withCookie = req({ cookie: `other=1; ${cookieOf(set)}` });
  assert.deepEqual(auth.check(withCookie), { ok: true });
  assert.equal(auth.check(req({ cookie: `${COOKIE}=made-up` })).ok, false);
  now += 60_001;
  const ended = auth.check(withCookie);
  assert.equal(ended.ok ? 0 : ended.status, 401);
  const again = auth.open(true);
  assert.match(again, /; Secure$/);
  const r = req({ cookie: cookieOf(again) });
  assert.deepEqual(auth.check(r), { ok: true });
  assert.match(auth.close(r), /Max-Age=0/);
  assert.equal(auth.check(r).ok, false, 'logged out');
});

test('a POST must be JSON from the same origin', () => {
  const host = '127.0.0.1:7790';
  assert.equal(sameOriginJson(req({ host, 'content-type': 'application/json' })), undefined);
  assert.equal(sameOriginJson(req({ host, 'content-type': 'application/json', origin: `http://${host}` })), undefined);
  assert.match(
    sameOriginJson(req({ host, 'content-type': 'application/json', origin: 'http://evil.example' })) ?? '',
    /another origin \(http:\/\/evil\.example\)/,
  );
  assert.match(sameOriginJson(req({ host, 'content-type': 'application/x-www-form-urlencoded' })) ?? '', /JSON body/);
  assert.match(sameOriginJson(req({ host, 'content-type': 'application/json', origin: 'null' })) ?? '', /not a URL/);
});
