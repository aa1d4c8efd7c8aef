/**
 * Every role run the way the Kubernetes kit runs it (deploy/k8s/base): the compiled image layout
 * (no tsx may load), each container's args, env (ConfigMap, Secrets, the pod IP from the downward
 * API) and fixed ports (test/support/k8s-pods.ts says how a pod is stood in for): each
 * StatefulSet at its replicas, one pod per Deployment. Then a rolling update of every role, as Kubernetes makes it (a Deployment: a new pod,
 * ready, then the old one terminated; a StatefulSet: a pod terminated, then started again under
 * its name), while SDK clients call every service through the BrokerList's Service: /healthz
 * answers from the start, /readyz once registered, 503 once terminating, the process exits 0
 * within terminationGracePeriodSeconds less its preStop, and no client call fails.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { NoonClient } from '../../client';
import { tempDir } from '../support/cli-proc';
import { createClusterData, dropClusterData } from '../support/cluster-data';
import { BASE, render, roleOf, workloads, type Workload } from '../support/k8s-kit';
import { buildImage, inImage, Kubelet, type Image, type Pod } from '../support/k8s-pods';
import type { Resource } from '../support/kustomize';
import { killAllProcesses } from '../support/process';
import { pgUrlFor, redisUrlFor } from '../support/services';
import { makeTestCa, type TestCa } from '../support/tls-ca';
import { until } from '../support/wait';

const BUILD_DEADLINE_MS = 300_000;
const READY_DEADLINE_MS = 60_000;
const REDIS_DB = 12;
const RESTARTS = 2;
/** Pod addresses of this run: a loopback /24 of its own, so nothing a crashed run left holds them. */
const IP_PREFIX = `127.${2 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250)}`;
const CLIENTS = 3;
/** 5 calls per round, a round every 100 ms: 50 calls/s per client */
const ROUND_MS = 100;
const dbName = `noon_deploy_${randomBytes(4).toString('hex')}`;
const work = tempDir('noon-deploy-');
const guard = join(work.dir, 'no-tsx.js');
let image: Image;
let keyDir = '';
const cli = (): string => inImage(image, image.config.entrypoint[1]!);
let ca: TestCa;
let kubelet: Kubelet;
let ws: Workload[];
let service: Server;
let serviceUrl = '';
const clients: NoonClient[] = [];

const byRole = (role: string): Workload => ws.find((w) => roleOf(w.spec.template.spec.containers[0]!) === role)!;
const podsOf = (role: string): Pod[] => [...kubelet.pods.values()].filter((p) => p.role === role && p.proc.alive);

/** The kit with its Secrets' placeholders replaced: the test's databases, fresh keys, a certificate. */
function withSecrets(rs: Resource[], secrets: Record<string, Record<string, string>>): Resource[] {
  return rs.map((r) =>
    r.kind === 'Secret' && secrets[r.metadata.name] ? { ...r, stringData: secrets[r.metadata.name]! } : r,
  );
}

/**
 * Waits for a pod to be ready. A container that exits before (a database timing out at start on
 * a busy machine) is started again, as restartPolicy Always does, at most RESTARTS times.
 */
async function ready(first: Pod): Promise<Pod> {
  let pod = first;
  for (let restarts = 0; ; restarts++) {
    try {
      await pod.proc.ready(READY_DEADLINE_MS, pod.role);
      break;
    } catch (err) {
      if (pod.proc.alive || restarts >= RESTARTS) throw err;
      console.log(`${pod.name} exited before it was ready; restarting it: ${pod.proc.tail(3)}`);
      pod = kubelet.start(pod.workload, pod.name);
    }
  }
  assert.deepEqual(
    await pod.probe('/healthz'),
    { status: 200, body: 'ok' },
    `${pod.name} alive once it prints its ready line`,
  );
  await until(`${pod.name} ready`, async () => (await pod.probe('/readyz')).status === 200, READY_DEADLINE_MS, 50);
  return pod;
}

/** `noon yellow drain <instance>` from the image, as an operator (its key) would run it. */
function drain(pod: Pod): void {
  const id = String(pod.proc.jsonLine({ ready: pod.role })?.instanceId);
  const yellows = podsOf('yellow').map((y) => `tcp://${y.ip}:${y.env.NOON_YELLOW_PORT}`);
  execFileSync(process.execPath, [cli(), 'yellow', 'drain', id, '--yellow', yellows.join(',')], {
    env: { PATH: process.env.PATH, NOON_INTERNAL_KEYS: keyDir, NOON_LOG_LEVEL: 'warn' },
    stdio: 'ignore',
    timeout: 30_000,
  });
}

/**
 * Replaces a pod the documented way: drained (unready, still alive), then terminated as the
 * kubelet does (its preStop, then SIGTERM): never ready again, exit 0 within the grace period
 * less the preStop. Returns how long the exit took after SIGTERM.
 */
async function retire(pod: Pod): Promise<number> {
  // retried: right after a Yellow restarts, the instance may not have registered there again yet
  await until(`${pod.name} drained by an operator`, () => (drain(pod), true), 30_000, 200);
  const drained = await until(`${pod.name} unready once drained`, async () => {
    const r = await pod.probe('/readyz');
    return r.status === 503 ? r : undefined;
  });
  assert.equal(drained.body, 'draining');
  assert.deepEqual(await pod.probe('/healthz'), { status: 200, body: 'ok' }, `${pod.name} drained is still alive`);
  pod.terminating = true;
  const t0 = Date.now();
  pod.proc.proc.kill('SIGTERM');
  while (pod.proc.alive) {
    const r = await pod.probe('/readyz');
    assert.notEqual(r.status, 200, `${pod.name} ready again while terminating`);
    if (r.status === 0) break;
  }
  const exit = await pod.proc.exited;
  const ms = Date.now() - t0;
  assert.deepEqual(exit, { code: 0, signal: null }, `${pod.name} exit\n${pod.proc.tail()}`);
  const budgetMs = (pod.graceSeconds - pod.preStopSeconds) * 1000;
  assert.ok(ms < budgetMs, `${pod.name} took ${ms} ms to exit, over its ${budgetMs} ms (grace less preStop)`);
  return ms;
}

/** The BrokerList's Service: forwards each request to a ready pod that is not terminating. */
function startService(): Promise<void> {
  service = createServer((req, res) => {
    void (async () => {
      const eps: Pod[] = [];
      for (const p of podsOf('brokerlist'))
        if (!p.terminating && (await p.probe('/readyz')).status === 200) eps.push(p);
      const to = eps[Math.floor(Math.random() * eps.length)];
      if (!to) return res.writeHead(503).end('no ready endpoint');
      const port = Number(to.env.NOON_BROKERLIST_PORT);
      const fwd = request({ host: to.ip, port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      fwd.on('error', () => res.writeHead(502).end());
      req.pipe(fwd);
    })();
  });
  return new Promise((resolve) =>
    service.listen(0, '127.0.0.1', () => {
      const a = service.address();
      serviceUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
      resolve();
    }),
  );
}

before(
  async () => {
    const t0 = Date.now();
    image = buildImage(join(work.dir, 'app'));
    console.log(`image built in ${Date.now() - t0} ms`);
    writeFileSync(
      guard,
      "const M = require('node:module');\nconst resolve = M._resolveFilename;\n" +
        'M._resolveFilename = function (request, ...rest) {\n' +
        "  if (/^tsx(\\/|$)/.test(request)) throw new Error('the image loaded tsx: ' + request);\n" +
        '  return resolve.call(this, request, ...rest);\n};\n',
    );
    const rs = render(BASE);
    ws = workloads(rs);
    const roles = ws.map((w) => roleOf(w.spec.template.spec.containers[0]!));
    keyDir = join(work.dir, 'keys');
    execFileSync(
      process.execPath,
      [cli(), 'keys', 'generate', '--dir', keyDir, '--roles', [...roles, 'operator'].join(',')],
      {
        stdio: 'ignore',
        timeout: 30_000,
      },
    );
    ca = makeTestCa('deploy');
    const ips = Array.from({ length: 60 }, (_, i) => `IP:${IP_PREFIX}.${i + 1}`).join(',');
    const cert = ca.issue('noon', ips);
    await createClusterData(dbName, REDIS_DB);
    const secrets = {
      'noon-data': { NOON_PG_URL: pgUrlFor(dbName), NOON_REDIS: redisUrlFor(REDIS_DB) },
      'noon-internal-keys': Object.fromEntries(
        readdirSync(keyDir).map((f) => [f, readFileSync(join(keyDir, f), 'utf8')]),
      ),
      'noon-tls': { 'tls.crt': readFileSync(cert.certPath, 'utf8'), 'tls.key': readFileSync(cert.keyPath, 'utf8') },
    };
    kubelet = new Kubelet({
      image,
      resources: withSecrets(rs, secrets),
      podsDir: join(work.dir, 'pods'),
      ipPrefix: IP_PREFIX,
      processEnv: { NODE_OPTIONS: `--require ${guard}` },
    });
    await startService();
  },
  { timeout: BUILD_DEADLINE_MS },
);

after(async () => {
  for (const c of clients) c.close();
  killAllProcesses();
  service?.closeAllConnections();
  service?.close();
  await dropClusterData(dbName, REDIS_DB);
  ca?.remove();
  work.remove();
});

/** Each live pod's peak RSS (MiB) and CPU time (s) so far, from /proc: the figures the manifests' resources come from. */
function footprints(): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  const tick = 100; // USER_HZ on Linux
  for (const p of kubelet.pods.values()) {
    if (!p.proc.alive) continue;
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.proc.pid}/status`, 'utf8'));
    const stat = readFileSync(`/proc/${p.proc.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const cpu = (Number(stat[11]) + Number(stat[12])) / tick;
    out[p.name] = [Math.round(Number(hwm?.[1] ?? 0) / 1024), Number(cpu.toFixed(2))];
  }
  return out;
}

/** Pod names: a StatefulSet's are `<name>-<ordinal>`, a Deployment's get a random suffix. */
function podName(w: Workload, ordinal: number): string {
  return w.kind === 'StatefulSet'
    ? `${w.metadata.name}-${ordinal}`
    : `${w.metadata.name}-${randomBytes(3).toString('hex')}`;
}

test(
  'every role starts from its manifest: alive at once, ready once registered, on the ports it declares',
  { timeout: 180_000 },
  async () => {
    const yellow = byRole('yellow');
    const yellows = Array.from({ length: yellow.spec.replicas ?? 1 }, (_, i) =>
      kubelet.start(yellow, podName(yellow, i)),
    );
    // StatefulSets at their replicas (the Yellow list names each; two brokers to hand clients
    // over); one pod per Deployment, which its rolling update surges to two
    const replicas = (w: Workload): number => (w.kind === 'StatefulSet' ? (w.spec.replicas ?? 1) : 1);
    const rest = ws
      .filter((w) => w !== yellow)
      .flatMap((w) => Array.from({ length: replicas(w) }, (_, i) => kubelet.start(w, podName(w, i))));
    const t0 = Date.now();
    const pods: Pod[] = [];
    for (const pod of [...yellows, ...rest]) pods.push(await ready(pod));
    console.log(`${pods.length} pods ready in ${Date.now() - t0} ms`);
    for (const pod of pods) {
      const line = pod.proc.jsonLine({ ready: pod.role })!;
      const declared = new Set((pod.container.ports ?? []).map((p) => p.containerPort));
      for (const [kind, endpoint] of Object.entries(line)) {
        const m = typeof endpoint === 'string' ? /^(?:[a-z]+:\/\/)?([\d.]+):(\d+)/.exec(endpoint) : null;
        if (!m || kind === 'instanceId') continue;
        assert.equal(m[1], pod.ip, `${pod.name} advertises its pod IP for ${kind}`);
        assert.ok(declared.has(Number(m[2])), `${pod.name}: ${kind} on ${endpoint}, not a declared containerPort`);
      }
    }
  },
);

test(
  'a rolling update of every role while clients call every service: no call fails',
  { timeout: 600_000 },
  async () => {
    for (let i = 0; i < CLIENTS; i++) {
      const c = await NoonClient.viaBrokerList(serviceUrl, { callTimeoutMs: 10_000 });
      clients.push(c);
      // a device login (no password hash): the setup, not what is under test, on a busy machine
      const device = `deploy-device-${i}-${randomBytes(8).toString('hex')}`;
      await until(`client ${i} logged in`, () => c.sso.loginDevice(device), READY_DEADLINE_MS, 100);
    }
    let running = true;
    const failures: string[] = [];
    let calls = 0;
    // each client keeps to half its connection's rate limit (NOON_CALLS_PER_SECOND, 100 by default)
    const loops = clients.map(async (c) => {
      while (running) {
        const round = new Promise((resolve) => setTimeout(resolve, ROUND_MS));
        const results = await Promise.allSettled([
          c.sso.ping(),
          c.player.getWallet(),
          c.leaderboard.ping(),
          c.duel.ping(),
          c.chat.ping(),
        ]);
        for (const r of results) {
          calls++;
          if (r.status === 'rejected') failures.push(String(r.reason));
        }
        await round;
      }
    });

    try {
      await rollEveryRole();
    } finally {
      running = false;
      await Promise.all(loops);
    }
    console.log(`calls: ${calls}`);
    console.log(`footprint after the run (peak RSS MiB, CPU s): ${JSON.stringify(footprints())}`);
    const byMessage: Record<string, number> = {};
    for (const f of failures) byMessage[f] = (byMessage[f] ?? 0) + 1;
    assert.deepEqual(byMessage, {}, `${failures.length} of ${calls} calls failed`);
    assert.ok(calls > 1000, `${calls} calls`);

    async function rollEveryRole(): Promise<void> {
      const timings: Record<string, number[]> = {};
      const order = [...ws.filter((w) => w.kind === 'Deployment'), ...ws.filter((w) => w.kind === 'StatefulSet')];
      for (const w of order) {
        const role = roleOf(w.spec.template.spec.containers[0]!);
        const before = calls;
        const t0 = Date.now();
        if (w.kind === 'Deployment') {
          // maxSurge 1, maxUnavailable 0: one new pod ready, then one old pod terminated, per replica
          for (const old of podsOf(role)) {
            await ready(kubelet.start(w, podName(w, 0)));
            (timings[role] ??= []).push(await retire(old));
          }
        } else {
          // a StatefulSet updates from the highest ordinal down, one pod at a time, under the same name
          for (let i = (w.spec.replicas ?? 1) - 1; i >= 0; i--) {
            const old = kubelet.pods.get(podName(w, i))!;
            (timings[role] ??= []).push(await retire(old));
            await ready(kubelet.start(w, podName(w, i)));
          }
        }
        await until(`calls go on after ${role}'s update`, () => calls > before + 100, 30_000, 50);
        console.log(`${role} updated in ${Date.now() - t0} ms (${calls - before} calls meanwhile)`);
      }
      console.log(`exit after SIGTERM (ms): ${JSON.stringify(timings)}`);
    }
  },
);
