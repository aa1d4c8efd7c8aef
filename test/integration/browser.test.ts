/**
 * The browser build of the SDK (dist/browser/noon-client.js, built here by
 * scripts/build-browser.js when missing or stale) in a real Chromium (Debian's /usr/bin/chromium,
 * driven by playwright-core) against a real `noon up`. The page is served by a tiny static server
 * on its own origin, which the cluster allows with NOON_CORS_ORIGINS; a second server is an
 * origin the cluster does not allow. Using nothing but the bundle, the page reads the BrokerList
 * cross-origin, registers, calls Player over WebSocket with bigint i64s, receives the
 * walletChanged push (through on() and through onPushes with a generated Processor), reconnects
 * and resumes after its socket drops, and is kicked when its session is resumed elsewhere.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { fetchBrokers } from '../../client/brokerlist';
import { cleanEnv, clusterFlags, NoonProc, tempDir } from '../support/cli-proc';
import { ROOT, TestProcess } from '../support/process';
import { until, within } from '../support/wait';

const CHROMIUM = '/usr/bin/chromium';
const BUNDLE = join(ROOT, 'dist', 'browser', 'noon-client.js');
const META = join(ROOT, 'dist', 'browser', 'noon-client.meta.json');

/**
 * The page: loads the bundle as an ES module and defines the scenarios the test runs. What a
 * studio's web game would write, plus a WebSocket wrapper so a scenario can drop its own socket.
 */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>noon browser SDK</title></head>
<body>
<script type="module">
import * as noon from '/noon-client.js';

// Tracks the sockets the SDK opens, so the scenario can cut one as a network drop would.
const sockets = [];
globalThis.WebSocket = class TrackedWebSocket extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols);
    sockets.push(this);
  }
};

function within(promise, ms, what) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(what + ' did not happen within ' + ms + ' ms')), ms)),
  ]);
}
function nextEvent(client, event, ms) {
  return within(new Promise((resolve) => client.once(event, (...args) => resolve(args))), ms, event);
}
const str = (v) => (v === undefined ? 'undefined' : typeof v + ':' + String(v));

async function main(brokerlist, username) {
  const out = {};
  out.bufferGlobal = typeof globalThis.Buffer;
  out.processGlobal = typeof globalThis.process;

  // A preflighted cross-origin read (Cache-Control is not a simple header), then the SDK's own.
  const pre = await fetch(brokerlist, { headers: { 'cache-control': 'no-cache' } });
  out.preflightedStatus = pre.status;
  const brokers = await noon.fetchBrokers(brokerlist);
  out.brokerHasWs = brokers.length > 0 && brokers.every((b) => /^ws:\\/\\//.test(b.ws));

  const c = await noon.NoonClient.viaBrokerList(brokerlist, { keepAliveMs: 0, callTimeoutMs: 8000 });
  out.i64Mode = c.i64;
  out.endpointIsWs = c.endpoint === brokers[0].ws;
  const session = await c.sso.register(username, 'a-long-password');
  out.session = {
    username: session.username,
    expiresAtMs: typeof session.expiresAtMs,
    inTheFuture: session.expiresAtMs > BigInt(Date.now()),
    remembered: c.session.sessionId === session.sessionId,
  };

  const profile = await c.player.getProfile();
  out.profile = {
    username: profile.username,
    level: str(profile.level),
    xp: str(profile.xp),
    soft: str(profile.wallet.soft),
    hard: str(profile.wallet.hard),
  };

  // The generic path a studio's own service takes: a generated Client class and a Processor.
  const player = c.service(noon.Player.Client, 'Player');
  out.serviceIsPlayer = player === c.player;
  const viaProcessor = [];
  c.onPushes('Events', noon.Events.Processor, { walletChanged: (w) => viaProcessor.push(str(w.soft)) });
  const pushed = nextEvent(c, 'walletChanged', 5000);
  const bought = await player.buyCurrency(
    new noon.BuyRequest({ receiptId: 'dev:coins_250:' + username, currency: noon.Currency.SOFT, amount: 250n }),
  );
  out.bought = { soft: str(bought.soft), hard: str(bought.hard) };
  const [pushedWallet] = await pushed;
  out.push = { soft: str(pushedWallet.soft), hard: str(pushedWallet.hard), viaProcessor };
  out.currency = noon.enumName(noon.Currency, noon.Currency.SOFT);
  out.unknownEnum = String(noon.enumName(noon.Currency, 99));

  try {
    await c.player.spendCurrency(
      new noon.SpendRequest({ idempotencyKey: 'k-1', currency: noon.Currency.HARD, amount: noon.i64(5000n), reason: 'x' }),
    );
    out.spendError = 'none';
  } catch (err) {
    out.spendError = noon.errorCode(err);
    out.spendErrorIsGameError = err instanceof noon.GameError;
  }

  // The socket drops: the SDK reconnects through the BrokerList and resumes the same session.
  const reconnected = nextEvent(c, 'reconnected', 10000);
  const dropped = nextEvent(c, 'disconnected', 5000);
  sockets[0].close();
  const [drop] = await dropped;
  const [info] = await reconnected;
  out.reconnect = {
    willReconnect: drop.willReconnect,
    sameSession: info.session.sessionId === session.sessionId,
    expiresAtMs: typeof info.session.expiresAtMs,
    sockets: sockets.length,
  };
  out.afterReconnect = str((await c.player.getWallet()).soft);

  // The session resumed on a second connection: the first one is kicked and closed.
  const kicked = nextEvent(c, 'kicked', 5000);
  const closedForGood = nextEvent(c, 'disconnected', 5000);
  const c2 = await noon.NoonClient.connect({ ws: brokers[0].ws }, { keepAliveMs: 0 });
  const resumed = await c2.sso.resume(session.token);
  out.resumedSame = resumed.sessionId === session.sessionId;
  const [reason] = await kicked;
  const [gone] = await closedForGood;
  out.kicked = { reason, willReconnect: gone.willReconnect };
  out.secondClient = str((await c2.player.getWallet()).soft);
  c2.close();
  return out;
}

async function refused(brokerlist) {
  try {
    await noon.NoonClient.viaBrokerList(brokerlist, { keepAliveMs: 0 });
    return 'connected';
  } catch (err) {
    return noon.errorCode(err) + ' ' + /request failed/.test(err.message);
  }
}

globalThis.scenario = { main, refused };
</script>
</body></html>`;

/** The bundle is rebuilt when it is missing or older than any file it was built from. */
function bundleIsStale(): boolean {
  if (!existsSync(BUNDLE) || !existsSync(META)) return true;
  const built = statSync(BUNDLE).mtimeMs;
  const { inputs } = JSON.parse(readFileSync(META, 'utf8')) as { inputs: string[] };
  return inputs.some((f) => !existsSync(join(ROOT, f)) || statSync(join(ROOT, f)).mtimeMs > built);
}

/** A static server for the page and the bundle, on its own port (so its own origin). */
async function staticServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const file =
      path === '/'
        ? { type: 'text/html; charset=utf-8', body: Buffer.from(PAGE) }
        : path === '/noon-client.js'
          ? { type: 'text/javascript; charset=utf-8', body: readFileSync(BUNDLE) }
          : path === '/noon-client.js.map'
            ? { type: 'application/json', body: readFileSync(`${BUNDLE}.map`) }
            : undefined;
    if (!file) {
      res.writeHead(path === '/favicon.ico' ? 204 : 404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('the browser SDK in Chromium against noon up', () => {
  const data = tempDir('noon-browser-');
  const profileDir = mkdtempSync(join(tmpdir(), 'noon-chromium-'));
  const servers: Server[] = [];
  let allowed = '';
  let other = '';
  let up: NoonProc | undefined;
  let brokerlist = '';
  let context: BrowserContext | undefined;
  const pageLog: string[] = [];

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
    if (bundleIsStale()) {
      const build = new TestProcess([join(ROOT, 'scripts', 'build-browser.js')], process.env, 'build-browser');
      const exit = await within(build.exited, 60_000, 'the browser build');
      assert.equal(exit.code, 0, `build-browser failed:\n${build.tail()}`);
    }
    for (const s of [await staticServer(), await staticServer()]) servers.push(s.server);
    allowed = `http://127.0.0.1:${(servers[0]?.address() as AddressInfo).port}`;
    other = `http://127.0.0.1:${(servers[1]?.address() as AddressInfo).port}`;

    up = new NoonProc(
      ['up', ...clusterFlags(data.dir), '--log-level', 'warn'],
      cleanEnv({ NOON_CORS_ORIGINS: allowed }),
    );
    const ready = await up.waitFor('ready line', () => up?.jsonLine({ ready: 'up' }), 120_000);
    brokerlist = `${String(ready.brokerlist)}/brokers`;
    // The BrokerList learns the broker from Yellow and caches its answer for up to a second.
    await until(
      'the BrokerList lists a ws broker',
      async () => (await fetchBrokers(brokerlist)).some((b) => b.ws),
      20_000,
      100,
    );

    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30_000,
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
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    if (up) await up.stop('SIGINT', 20_000);
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    rmSync(profileDir, { recursive: true, force: true });
    data.remove();
    if (pageLog.length > 0) process.stderr.write(`page log:\n${pageLog.join('\n')}\n`);
  });

  async function open(origin: string): Promise<Page> {
    const page = await (context as BrowserContext).newPage();
    page.on('console', (m) => pageLog.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => pageLog.push(`[pageerror] ${e.message}`));
    await page.goto(`${origin}/`, { timeout: 15_000 });
    await page.waitForFunction(() => 'scenario' in globalThis, undefined, { timeout: 15_000 });
    return page;
  }

  test('from an allowed origin: BrokerList, register, typed calls with bigints, pushes, resume, kicked', async () => {
    const page = await open(allowed);
    const out = await within(
      page.evaluate(
        ([url, user]) =>
          (globalThis as unknown as { scenario: { main(u: string, n: string): Promise<unknown> } }).scenario.main(
            url,
            user,
          ),
        [brokerlist, `web-ann-${process.pid}`] as const,
      ),
      60_000,
      'the page scenario',
    );
    assert.deepEqual(out, {
      bufferGlobal: 'undefined',
      processGlobal: 'undefined',
      preflightedStatus: 200,
      brokerHasWs: true,
      i64Mode: 'bigint',
      endpointIsWs: true,
      session: { username: `web-ann-${process.pid}`, expiresAtMs: 'bigint', inTheFuture: true, remembered: true },
      profile: {
        username: `web-ann-${process.pid}`,
        level: 'number:1',
        xp: 'bigint:0',
        soft: 'bigint:1000',
        hard: 'bigint:20',
      },
      serviceIsPlayer: true,
      bought: { soft: 'bigint:1250', hard: 'bigint:20' },
      push: { soft: 'bigint:1250', hard: 'bigint:20', viaProcessor: ['bigint:1250'] },
      currency: 'SOFT',
      unknownEnum: 'undefined',
      spendError: 'INSUFFICIENT_FUNDS',
      spendErrorIsGameError: true,
      reconnect: { willReconnect: true, sameSession: true, expiresAtMs: 'bigint', sockets: 2 },
      afterReconnect: 'bigint:1250',
      resumedSame: true,
      kicked: { reason: 'session resumed on another connection', willReconnect: false },
      secondClient: 'bigint:1250',
    });
    await page.close();
  });

  test('the bundle is one ES module with no Node-only module in it', () => {
    const { inputs } = JSON.parse(readFileSync(META, 'utf8')) as { inputs: string[] };
    const nodeOnly = inputs.filter((f) =>
      /^node:|node_modules\/(ws|isomorphic-ws|zeromq|browser-or-node)\/|thrift\/(connection|http_connection|ws_connection|xhr_connection|server|web_server)\.js$|client\/(transports|client|index)\.ts$/.test(
        f,
      ),
    );
    assert.deepEqual(nodeOnly, []);
    assert.ok(inputs.includes('client/ws-browser.ts') && inputs.includes('node_modules/buffer/index.js'));
    const code = readFileSync(BUNDLE, 'utf8');
    assert.doesNotMatch(code, /Dynamic require|from ["']node:|require\(["'](net|http|crypto|events)["']\)/);
    assert.match(code, /^export \{/m, 'an ES module');
  });

  test('from an origin the cluster does not allow, the browser keeps the BrokerList from the page', async () => {
    const page = await open(other);
    const out = await within(
      page.evaluate(
        (url) => (globalThis as unknown as { scenario: { refused(u: string): Promise<string> } }).scenario.refused(url),
        brokerlist,
      ),
      30_000,
      'the refused scenario',
    );
    assert.equal(out, 'BROKERLIST true');
    await page.close();
  });
});
