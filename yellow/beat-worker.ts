/**
 * The heartbeat thread: sends every provider's heartbeats from a worker thread with DEALERs of
 * its own, so a busy or blocked main event loop cannot silence them. Each heartbeat carries the
 * last load the main thread reported and, when the main loop is behind, how long it has been
 * silent (`stalledMs`). A main loop silent past `stallLimitMs` is taken as hung: beats stop and
 * the instance expires like a dead one.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../shared/log';
import type { BeatCommand, BeatProvider, BeatReport, BeatWorkerData } from './beat-protocol';
import { YellowLink } from './link';

interface Provider {
  spec: BeatProvider;
  links: YellowLink[];
  /** per link: the epoch of the registration being kept alive, undefined when not registered */
  epochs: Array<number | undefined>;
  draining: Array<boolean | undefined>;
  timer: NodeJS.Timeout;
  hung: boolean;
}

const data = workerData as BeatWorkerData;
const progress = new BigInt64Array(data.progress);
const logger = createLogger({ role: 'heartbeat', instanceId: `heartbeat-${process.pid}`, level: data.logLevel });
const providers = new Map<string, Provider>();

function report(r: BeatReport): void {
  parentPort?.postMessage(r);
}

function beat(key: string, p: Provider): void {
  const { spec } = p;
  const silentMs = Date.now() - Number(Atomics.load(progress, 0));
  if (silentMs > spec.stallLimitMs) {
    if (!p.hung) report({ t: 'hung', key, stalledMs: silentMs });
    p.hung = true;
    return;
  }
  p.hung = false;
  const stalled = silentMs > spec.heartbeatMs ? { stalledMs: Math.round(silentMs) } : {};
  p.links.forEach((link, i) => {
    const epoch = p.epochs[i];
    const hbKey = `heartbeat:${spec.instanceId}`;
    if (epoch === undefined || link.busy(hbKey)) return;
    const req = { op: 'heartbeat' as const, instanceId: spec.instanceId, load: spec.load, ...stalled };
    link.request<'heartbeat'>(req, spec.heartbeatMs, hbKey).then(
      (r) => {
        if (p.epochs[i] !== epoch) return;
        if (r.status === 'unknown') {
          p.epochs[i] = undefined;
          report({ t: 'unknown', key, link: i, epoch });
        } else if (r.draining !== undefined && r.draining !== p.draining[i]) {
          p.draining[i] = r.draining;
          report({ t: 'draining', key, link: i, draining: r.draining });
        }
      },
      (e: unknown) => logger.debug({ err: e, yellow: link.endpoint }, 'heartbeat not answered'),
    );
  });
}

function add(key: string, spec: BeatProvider): void {
  remove(key);
  const links = spec.endpoints.map((e) => new YellowLink(e, logger, spec.curve));
  for (const l of links) l.start();
  const p: Provider = {
    spec,
    links,
    epochs: links.map(() => undefined),
    draining: links.map(() => undefined),
    hung: false,
    // Two beats per interval: a lost or late one does not bring the instance near its limit.
    timer: setInterval(() => beat(key, p), Math.max(1, Math.floor(spec.heartbeatMs / 2))),
  };
  providers.set(key, p);
}

function remove(key: string): void {
  const p = providers.get(key);
  if (!p) return;
  providers.delete(key);
  clearInterval(p.timer);
  for (const l of p.links) void l.stop();
}

parentPort?.on('message', (cmd: BeatCommand) => {
  switch (cmd.t) {
    case 'add':
      add(cmd.key, cmd.provider);
      return;
    case 'load': {
      const p = providers.get(cmd.key);
      if (p) p.spec.load = cmd.load;
      return;
    }
    case 'registered': {
      const p = providers.get(cmd.key);
      if (!p || cmd.link >= p.links.length) return;
      p.epochs[cmd.link] = cmd.epoch;
      // The first beat under a new registration goes at once: the main thread may be about to block.
      if (cmd.epoch !== undefined) beat(cmd.key, p);
      return;
    }
    case 'remove':
      remove(cmd.key);
      return;
    case 'shutdown':
      void shutdown();
      return;
  }
});

/**
 * Ends the thread by itself: every DEALER closed, then the port, so the thread's loop empties.
 * A thread that still has ZeroMQ sockets when the process exits aborts the whole process in
 * zeromq.js's teardown (`terminate called after throwing an instance of 'Napi::Error'`).
 */
async function shutdown(): Promise<void> {
  const stopping: Promise<void>[] = [];
  for (const [key, p] of providers) {
    providers.delete(key);
    clearInterval(p.timer);
    for (const l of p.links) stopping.push(l.stop());
  }
  await Promise.allSettled(stopping);
  parentPort?.close();
}

report({ t: 'ready' });
