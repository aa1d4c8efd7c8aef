/**
 * A whole load test: check the targets, scrape the brokers' counters, run the scenario, scrape
 * again once the brokers have counted what was sent, check the money, build the report.
 */
import { fetchBrokers, fetchWithCa } from '../client';
import { brokerMetricsUrls, scrapeBrokers, scrapeSettled, type BrokerCounters } from './cluster-metrics';
import { moneyCheck, type MoneyCheck } from './money';
import { buildReport, type Report } from './report';
import { runLoad, type RunOptions } from './runner';
import { planSources } from './sources';
import { checkTarget } from './targets';

export interface LoadTestOptions extends RunOptions {
  allowRemote?: boolean;
  /** Yellow ROUTER endpoints, to find the brokers' metrics URLs */
  yellow: string[];
  /** the brokers' metrics URLs, instead of asking Yellow */
  metricsUrls?: string[];
  /** the money check runs when set */
  pgUrl?: string;
  pgSchema?: string;
  /** how long to wait after the run for brokers to count calls the client gave up on; default callTimeoutMs + 2 s */
  settleMs?: number;
}

async function metricsTargets(o: LoadTestOptions): Promise<string[]> {
  const urls = o.metricsUrls ?? (await brokerMetricsUrls(o.yellow)).map((b) => b.url);
  if (urls.length === 0) throw new Error(`Yellow (${o.yellow.join(', ')}) knows no broker with a metrics URL`);
  for (const u of urls) checkTarget('broker metrics URL', u, o.allowRemote === true);
  return urls;
}

export async function loadTest(o: LoadTestOptions): Promise<Report> {
  const allow = o.allowRemote === true;
  checkTarget('BrokerList URL', o.brokerListUrl, allow);
  const fetch = o.ca !== undefined ? { fetch: fetchWithCa(o.ca) } : {};
  for (const b of await fetchBrokers(o.brokerListUrl, fetch)) {
    for (const e of [b.tcp, b.ws, b.tls, b.wss])
      if (e !== undefined) checkTarget(`broker ${b.instanceId ?? ''} endpoint`, e, allow);
  }
  let urls: string[] = [];
  let before: BrokerCounters | undefined;
  let error: string | undefined;
  try {
    urls = await metricsTargets(o);
    before = await scrapeBrokers(urls);
  } catch (err) {
    if (err instanceof Error && err.name === 'TargetError') throw err;
    error = `could not read the brokers' counters: ${(err as Error).message}`;
  }
  const run = await runLoad({ ...o, sources: planSources(o.scenario.players, o.sources) });
  let after: BrokerCounters | undefined;
  if (before) {
    const sent = run.stats.acct.issued - run.stats.acct.notSent;
    after = await scrapeSettled(urls, before, sent, o.settleMs ?? o.scenario.callTimeoutMs + 2000).catch(
      (err: Error) => {
        error = `could not read the brokers' counters after the run: ${err.message}`;
        return undefined;
      },
    );
  }
  let money: MoneyCheck | null = null;
  if (o.pgUrl !== undefined) money = await moneyCheck(o.pgUrl, o.pgSchema !== undefined ? { schema: o.pgSchema } : {});
  const report = buildReport(run, { before, after, brokers: urls, ...(error !== undefined && { error }) }, money);
  run.stats.destroy();
  return report;
}

export { loadScenario, parseScenario, withOverrides, ScenarioError, type Scenario } from './scenario';
export { type Report } from './report';
export { formatText } from './report-text';
export { renderHtml } from './html';
