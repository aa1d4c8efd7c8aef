/**
 * Metrics that move: the event-loop delay of a 2 s block shows at the next scrape (and is gone at
 * the one after), and every watched queue reports its depth at each scrape. Real HTTP scrapes of
 * a Metrics object's /metrics, parsed as Prometheus text.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProm, sum } from '../../cli/prom';
import { Metrics } from '../../shared/metrics';
import { NOON_VERSION } from '../../shared/identity';

const metrics = new Metrics({ role: 'test', instanceId: 'test-metrics' });
let url = '';
before(async () => {
  url = await metrics.serve('127.0.0.1', 0);
});
after(() => metrics.close());

async function scrape(): Promise<ReturnType<typeof parseProm>> {
  return parseProm(await (await fetch(url)).text());
}

/** Keeps the event loop from turning for `ms` (a handler that computes instead of awaiting). */
function blockLoop(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    /* busy */
  }
}

test('a 2 s event-loop block shows in noon_event_loop_delay_seconds, and only until the next scrape', async () => {
  await scrape(); // the delay so far is reset at each scrape
  // turn the loop once so the sampling timer is armed, then block it
  await new Promise((resolve) => setImmediate(resolve));
  blockLoop(2000);
  const during = await scrape();
  const max = sum(during, 'noon_event_loop_delay_seconds', { stat: 'max' });
  assert.ok(max >= 1.5, `max delay ${max} s after a 2 s block`);
  const next = await scrape();
  assert.ok(sum(next, 'noon_event_loop_delay_seconds', { stat: 'max' }) < 1, 'reset after the scrape');
});

test('watched queues report their depth at each scrape', async () => {
  let waiting = 3;
  metrics.watchQueue('to_services', () => waiting);
  assert.equal(sum(await scrape(), 'noon_queue_depth', { queue: 'to_services' }), 3);
  waiting = 0;
  assert.equal(sum(await scrape(), 'noon_queue_depth', { queue: 'to_services' }), 0);
});

test('noon_build_info says which noon and Node.js the process runs', async () => {
  const samples = await scrape();
  assert.equal(sum(samples, 'noon_build_info', { version: NOON_VERSION, node: process.versions.node }), 1);
});
