/**
 * `noon console` in a real Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
 * against a real `noon up` with an admin token, under load (two SDK clients calling
 * Player:getProfile and Player:getWallet in a paced loop). The page, after logging in with the token:
 * lists every instance `noon yellow instances --json` lists; its calls/s chart's latest point
 * moves and counts the load; its drain button makes an instance draining in Yellow and undrain
 * reverts it (both checked with the CLI); a tap filtered on one method shows only that method
 * while the other is being called too; the session lookup finds a player's session on the
 * broker. Without the credential every API answer is 401 or 403, and nothing the console sends
 * holds the token. A screenshot of the page is written to test/output/console.png.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { NoonClient } from '../../client';
import { cleanEnv, clusterFlags, NoonProc, runNoon, tempDir } from '../support/cli-proc';
import { ROOT } from '../support/process';
import { until } from '../support/wait';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'console-test-admin-token-0123456789';
/** between one client's pairs of calls */
const LOAD_PAUSE_MS = 40;
const SCREENSHOT = join(ROOT, 'test', 'output', 'console.png');

interface YellowRow {
  instanceId: string;
  role: string;
  draining?: boolean;
}

describe('noon console in Chromium against noon up under load', { timeout: 400_000 }, () => {
  const data = tempDir('noon-console-');
  const profileDir = mkdtempSync(join(tmpdir(), 'noon-chromium-'));
  let up: NoonProc | undefined;
  let ready: Record<string, unknown> = {};
  let consoleUrl = '';
  let context: BrowserContext | undefined;
  let page: Page;
  const clients: NoonClient[] = [];
  const counts = { 'Player:getProfile': 0, 'Player:getWallet': 0, failed: 0 };
  let loading = true;
  let load: Promise<void> = Promise.resolve();
  const pageLog: string[] = [];
  const loadErrors: string[] = [];

  const yellowInstances = async (): Promise<YellowRow[]> => {
    const r = await runNoon(
      ['yellow', 'instances', '--json', '--yellow', String(ready.yellow), '--data-dir', data.dir],
      cleanEnv(),
    );
    assert.equal(r.code, 0, `noon yellow instances failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as YellowRow[];
  };

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
    up = new NoonProc(['up', ...clusterFlags(data.dir), '--log-level', 'warn'], cleanEnv({ NOON_ADMIN_TOKEN: TOKEN }));
    const started = Date.now();
    ready = await up.waitFor('ready line', () => up?.jsonLine({ ready: 'up' }), 120_000);
    console.log(`# noon up ready in ${Date.now() - started} ms`);
    consoleUrl = String(ready.console);
    assert.match(consoleUrl, /^http:\/\/127\.0\.0\.1:\d+$/, 'noon up names the console URL');

    for (const name of ['console_ann', 'console_bob']) {
      const c = await NoonClient.viaBrokerList(String(ready.brokerlist), { reconnect: false, keepAliveMs: 0 });
      await c.sso.register(name, `${name}-password-1`);
      clients.push(c);
    }
    // The load: each client alternates the two methods, one call at a time, until the end.
    load = Promise.all(
      clients.map(async (c) => {
        while (loading) {
          try {
            await c.player.getProfile();
            counts['Player:getProfile']++;
            await c.player.getWallet();
            counts['Player:getWallet']++;
            // paced, not a wait for anything: ≤ 50 calls/s a connection, under its rate limit
            await new Promise((r) => setTimeout(r, LOAD_PAUSE_MS));
          } catch (err) {
            // a failing call ends this client's loop (a retry loop on a refusal would spin)
            counts.failed++;
            loadErrors.push((err as Error).message);
            return;
          }
        }
      }),
    ).then(() => undefined);

    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30_000,
      viewport: { width: 1400, height: 1300 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => pageLog.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => pageLog.push(`pageerror: ${e.message}`));
    // Any request that leaves the console's origin fails the test (no CDN, no network).
    await page.route('**/*', (route) =>
      route.request().url().startsWith(consoleUrl) ? route.continue() : route.abort(),
    );
    page.on('requestfailed', (r) => pageLog.push(`request failed: ${r.url()}`));
  });

  after(async () => {
    loading = false;
    await load;
    for (const c of clients) c.close();
    await context?.close();
    await up?.stop('SIGINT');
    data.remove();
    rmSync(profileDir, { recursive: true, force: true });
  });

  test('the console refuses without the credential', async () => {
    for (const path of ['/api/cluster', '/api/series', '/api/session?q=console_ann', '/api/tap?q=*']) {
      const res = await fetch(`${consoleUrl}${path}`);
      assert.equal(res.status, 401, `${path} without a credential`);
    }
    const bearer = await fetch(`${consoleUrl}/api/cluster`, {
      headers: { authorization: 'Bearer not-the-token-at-all' },
    });
    assert.equal(bearer.status, 403, 'a wrong bearer token');
    const post = (body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
      fetch(`${consoleUrl}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const wrong = await post({ token: 'not-the-token-at-all' });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.headers.get('set-cookie'), null, 'no session for a wrong token');
    const crossSite = await post({ token: TOKEN }, { origin: 'http://evil.example' });
    assert.equal(crossSite.status, 403, 'a login POSTed from another origin');
    const drain = await fetch(`${consoleUrl}/api/drain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instanceId: 'x', draining: true }),
    });
    assert.equal(drain.status, 401, 'a drain without a credential');
    // The page itself shows the login box, and nothing of the cluster.
    await page.goto(consoleUrl);
    await page.locator('#login').waitFor({ state: 'visible', timeout: 10_000 });
    assert.equal(await page.locator('#main').isVisible(), false);
  });

  test('logged in, the page lists every instance Yellow lists', async () => {
    await page.fill('#token', TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.locator('#main').waitFor({ state: 'visible', timeout: 10_000 });
    const listed = (await yellowInstances()).map((r) => r.instanceId).sort();
    assert.ok(listed.length >= 9, `noon up registers its roles: ${listed.join(', ')}`);
    const shown = await until(
      'the page lists every instance',
      async () => {
        const ids = (await page.$$eval('#instances tbody tr', (rows) =>
          rows.map((r) => (r as HTMLElement).dataset.instance ?? ''),
        )) as string[];
        return ids.length === listed.length ? ids.sort() : undefined;
      },
      20_000,
      200,
    );
    assert.deepEqual(shown, listed);
    const roles = await page.$$eval('#instances tbody tr', (rows) => rows.map((r) => (r as HTMLElement).dataset.role));
    for (const role of ['yellow', 'broker', 'brokerlist', 'sso', 'player', 'console'])
      assert.ok(roles.includes(role), role);
  });

  test("the calls/s chart's latest point moves and counts the load", async () => {
    const first = await until(
      'a chart point with calls',
      async () => {
        const d = await page.locator('#chart-calls').evaluate((el) => ({ ...(el as HTMLElement).dataset }));
        return Number(d.lastTotal) > 0 ? d : undefined;
      },
      30_000,
      200,
    );
    const later = await until(
      'a newer chart point',
      async () => {
        const d = await page.locator('#chart-calls').evaluate((el) => ({ ...(el as HTMLElement).dataset }));
        return Number(d.lastTime) > Number(first.lastTime) && Number(d.lastTotal) > 0 ? d : undefined;
      },
      30_000,
      200,
    );
    assert.ok(Number(later.points) >= 2, `the chart keeps points: ${later.points}`);
    assert.ok(Number(later.methods) >= 2, `getProfile and getWallet are charted: ${later.methods}`);
    const p99 = await page.locator('#chart-p99').evaluate((el) => ({ ...(el as HTMLElement).dataset }));
    assert.ok(Number(p99.lastTime) > 0, 'the p99 chart has points too');
    // the broker's row shows the load as calls/s
    const brokerRate = await page.locator('#instances tbody tr[data-role=broker] td:nth-child(7)').textContent();
    assert.ok(Number(brokerRate) > 0, `the broker row shows calls/s: ${brokerRate}`);
  });

  test('drain on an instance makes it draining in Yellow; undrain reverts it', async () => {
    const chat = (await yellowInstances()).find((r) => r.role === 'chat');
    assert.ok(chat, 'a chat instance');
    const row = page.locator(`#instances tbody tr[data-instance="${chat.instanceId}"]`);
    await row.locator('button.drain').click();
    await until(
      'Yellow lists it draining',
      async () => (await yellowInstances()).find((r) => r.instanceId === chat.instanceId)?.draining === true,
      20_000,
      200,
    );
    await until(
      'the page shows it draining',
      async () => (await row.locator('td.draining').textContent()) === 'yes',
      10_000,
      100,
    );
    await row.locator('button.undrain').click();
    await until(
      'Yellow lists it taking work again',
      async () => (await yellowInstances()).find((r) => r.instanceId === chat.instanceId)?.draining !== true,
      20_000,
      200,
    );
    await until(
      'the page shows it not draining',
      async () => (await row.locator('td.draining').textContent()) === 'no',
      10_000,
      100,
    );
  });

  test('a tap with a filter shows only the matching calls', async () => {
    const before = { ...counts };
    await page.fill(
      '#tap-query',
      "SELECT method, outcome, latency_ms, user FROM calls WHERE method = 'Player:getWallet'",
    );
    await page.click('#tap-start');
    await until(
      'ten tapped calls on the page',
      async () => (await page.locator('#tap tbody tr').count()) >= 10,
      30_000,
      200,
    );
    const methods = await page.$$eval('#tap tbody tr', (rows) => rows.map((r) => (r as HTMLElement).dataset.method));
    assert.deepEqual([...new Set(methods)], ['Player:getWallet'], 'only the filtered method');
    assert.ok(
      counts['Player:getProfile'] > before['Player:getProfile'],
      'getProfile was called meanwhile and left out',
    );
    const outcomes = await page.$$eval('#tap tbody td.outcome', (tds) => [...new Set(tds.map((t) => t.textContent))]);
    assert.deepEqual(outcomes, ['ok']);
    assert.equal(await page.locator('#tap-error').textContent(), '');
    // a query that does not parse is refused with the character it is about
    await page.fill('#tap-query', 'SELECT methd FROM calls');
    await page.click('#tap-start');
    await until(
      'the query error',
      async () => /\^ unknown field 'methd'/.test((await page.locator('#tap-error').textContent()) ?? ''),
      10_000,
      100,
    );
    // the filtered tap again, so the screenshot shows it
    await page.fill(
      '#tap-query',
      "SELECT method, outcome, latency_ms, user FROM calls WHERE method = 'Player:getWallet'",
    );
    await page.click('#tap-start');
    await until('tapped calls again', async () => (await page.locator('#tap tbody tr').count()) >= 3, 30_000, 200);
  });

  test('the session lookup finds the player, their session and its broker', async () => {
    const broker = (await yellowInstances()).find((r) => r.role === 'broker');
    assert.ok(broker);
    await page.fill('#session-query', 'console_ann');
    await page.click('#session-form button[type=submit]');
    const cellText = await until(
      'a session row with its broker',
      async () => (await page.locator('#sessions tbody td.broker').first().textContent()) || undefined,
      10_000,
      100,
    );
    assert.equal(cellText, broker.instanceId);
    assert.equal(await page.locator('#sessions tbody tr').count(), 1, 'one session for the user');
  });

  test('nothing the console answers holds a secret; the screenshot is written', async () => {
    const cookie = (await context?.cookies(consoleUrl))?.find((c) => c.name === 'noon_console');
    assert.ok(cookie?.httpOnly, 'the console session cookie is HttpOnly');
    assert.equal(cookie?.sameSite, 'Strict');
    const headers = { cookie: `noon_console=${cookie?.value}` };
    for (const path of ['/api/cluster', '/api/series', '/api/session?q=console_ann']) {
      const text = await (await fetch(`${consoleUrl}${path}`, { headers })).text();
      assert.ok(!text.includes(TOKEN), `${path} holds no admin token`);
      assert.ok(
        !/curveKey|password|token_hash|tokenHash|secret/i.test(text),
        `${path} holds no key or hash: ${text.slice(0, 300)}`,
      );
    }
    assert.ok(!(await page.content()).includes(TOKEN), 'the page holds no admin token');
    mkdirSync(join(ROOT, 'test', 'output'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(existsSync(SCREENSHOT));
    assert.deepEqual(loadErrors, [], 'every call of the load succeeded');
    // Expected in the log: the 401 before logging in, the 400 of the bad query, the aborted taps.
    const unexpected = pageLog.filter(
      (l) => l.startsWith('pageerror:') || (l.startsWith('request failed:') && !l.includes('/api/tap?')),
    );
    assert.deepEqual(unexpected, [], `the page threw nothing and every asset loaded:\n${pageLog.join('\n')}`);
  });
});
