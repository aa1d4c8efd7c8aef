/**
 * The Kubernetes kit (deploy/k8s): every manifest of the base and of the rendered example overlay
 * passes the Kubernetes schemas (kubernetes-models) with current APIs only; the overlay renders the
 * same with this repository's small renderer as with `kubectl kustomize`; and the kit agrees with
 * the code: references resolve, selectors select, probes and ports are declared, every option is
 * a real noon option with a valid value, and each container's ports are the ones its role binds.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { CONFIG_SPEC } from '../../shared/config-spec';
import { loadConfig, type Config } from '../../shared/config';
import { STOP_DEADLINE_MS } from '../../cli/lifecycle';
import { BUILTIN_ROLES } from '../../services';
import { idOf, type Resource } from '../support/kustomize';
import {
  BASE,
  OVERLAY,
  containerEnv,
  find,
  probePort,
  render,
  roleOf,
  valuesOf,
  workloads,
  type Workload,
} from '../support/k8s-kit';

/** Current APIs only: each kind the kit may use, with its schema. */
const SCHEMAS: Record<string, new (o: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
};

const ROLES = ['yellow', 'brokerlist', 'broker', 'worker', ...BUILTIN_ROLES];
/** Each container port name, by the option that sets the port. */
const PORT_OPTIONS: Record<string, keyof Config> = {
  metrics: 'metricsPort',
  yellow: 'yellowPort',
  'yellow-pub': 'yellowPubPort',
  'svc-router': 'serviceRouterPort',
  'svc-internal': 'serviceInternalPort',
  'svc-pub': 'servicePubPort',
  pull: 'workerPullPort',
  tcp: 'brokerPort',
  ws: 'brokerWsPort',
  tls: 'brokerTlsPort',
  wss: 'brokerWssPort',
  http: 'brokerlistPort',
  https: 'brokerlistHttpsPort',
};
/** The listeners each role opens (with a certificate configured): all must be declared. */
function listenersOf(role: string, cfg: Config): string[] {
  if (role === 'yellow') return ['yellow', 'yellow-pub', 'metrics'];
  if (role === 'broker') return [...(cfg.plaintext ? ['tcp', 'ws'] : []), 'tls', 'wss', 'metrics'];
  if (role === 'brokerlist') return [...(cfg.plaintext ? ['http'] : []), 'https', 'metrics'];
  if (role === 'worker') return ['pull', 'metrics'];
  return ['svc-router', 'svc-internal', 'svc-pub', 'metrics'];
}
const NOON_ENV = new Set(Object.values(CONFIG_SPEC).map((s) => s.env));
const FIELDS = { 'status.podIP': '10.1.2.3', 'status.hostIP': '10.0.0.1', 'metadata.name': 'pod-0' };

const kits: Array<[string, Resource[]]> = [
  ['base', render(BASE)],
  ['overlay', render(OVERLAY)],
];

/** The labels a workload's pods carry, one set per pod a StatefulSet may run (its name label). */
function podLabelSets(w: Workload, rs: Resource[]): Array<Record<string, string>> {
  const labels = w.spec.template.metadata.labels;
  if (w.kind !== 'StatefulSet') return [labels];
  const hpa = rs.find(
    (r) =>
      r.kind === 'HorizontalPodAutoscaler' &&
      (r.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name === w.metadata.name,
  );
  const most = Math.max(
    w.spec.replicas ?? 1,
    Number((hpa?.spec as { maxReplicas?: number } | undefined)?.maxReplicas ?? 0),
  );
  return Array.from({ length: most }, (_, i) => ({
    ...labels,
    'statefulset.kubernetes.io/pod-name': `${w.metadata.name}-${i}`,
  }));
}

const selects = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

for (const [name, rs] of kits) {
  test(`${name}: every manifest passes its Kubernetes schema, current APIs only`, () => {
    assert.ok(rs.length >= 20, `${rs.length} resources`);
    for (const r of rs) {
      const Schema = SCHEMAS[`${r.apiVersion}/${r.kind}`];
      assert.ok(Schema, `${idOf(r)}: ${r.apiVersion} ${r.kind} is not one of the kit's current APIs`);
      assert.doesNotThrow(() => new Schema(r as never).validate(), `${idOf(r)} does not pass its schema`);
    }
  });

  test(`${name}: one workload per role, each running \`start <role>\` on a probed, drained, sized container`, () => {
    const ws = workloads(rs);
    assert.deepEqual(ws.map((w) => roleOf(w.spec.template.spec.containers[0]!)).sort(), [...ROLES].sort());
    for (const w of ws) {
      const pod = w.spec.template.spec;
      assert.ok(pod.securityContext?.runAsNonRoot, `${idOf(w)} runAsNonRoot`);
      assert.ok((pod.securityContext?.runAsUser ?? 0) > 0, `${idOf(w)} runs as a non-root uid`);
      assert.deepEqual(
        w.spec.selector.matchLabels,
        pickKeys(w.spec.template.metadata.labels, w.spec.selector.matchLabels),
      );
      for (const c of pod.containers) {
        const role = roleOf(c);
        assert.equal(c.name, role, `${idOf(w)}: the container is named after its role`);
        assert.equal(c.readinessProbe?.httpGet?.path, '/readyz', `${role} readiness`);
        assert.equal(c.livenessProbe?.httpGet?.path, '/healthz', `${role} liveness`);
        const metrics = c.ports?.find((p) => p.name === 'metrics')?.containerPort;
        assert.equal(probePort(c, c.readinessProbe!), metrics, `${role}: readiness on the declared metrics port`);
        assert.equal(probePort(c, c.livenessProbe!), metrics, `${role}: liveness on the declared metrics port`);
        for (const kind of ['requests', 'limits'] as const)
          for (const res of ['cpu', 'memory'])
            assert.ok(c.resources?.[kind]?.[res], `${role}: resources.${kind}.${res}`);
        const preStop = c.lifecycle?.preStop?.sleep?.seconds;
        assert.ok(preStop !== undefined && preStop > 0, `${role}: a preStop`);
        // noon exits by itself: preStop, then its own stop deadline (cli/start.ts), within the grace
        const cfg = loadConfig({}, containerEnv(rs, c, FIELDS));
        const stopDeadlineS = Math.max(STOP_DEADLINE_MS, cfg.drainGraceMs + 5000) / 1000;
        assert.ok(
          preStop + stopDeadlineS <= (pod.terminationGracePeriodSeconds ?? 30),
          `${role}: preStop ${preStop} s + stop deadline ${stopDeadlineS} s > terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds}`,
        );
      }
    }
  });

  test(`${name}: every env name is a noon option (or feeds one), every value parses, ports match the options`, () => {
    for (const w of workloads(rs)) {
      for (const c of w.spec.template.spec.containers) {
        const role = roleOf(c);
        const env = containerEnv(rs, c, FIELDS);
        const helpers = new Set(
          (c.env ?? []).flatMap((e) =>
            [...(e.value ?? '').matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)].map((m) => m[1]),
          ),
        );
        for (const k of Object.keys(env))
          assert.ok(NOON_ENV.has(k) || helpers.has(k), `${role}: ${k} is not a noon option (shared/config-spec.ts)`);
        for (const [i, e] of (c.env ?? []).entries())
          for (const m of (e.value ?? '').matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g))
            assert.ok(
              (c.env ?? []).slice(0, i).some((x) => x.name === m[1]),
              `${role}: ${e.name} uses $(${m[1]}) before it is defined`,
            );
        const cfg = loadConfig({}, env);
        assert.equal(cfg.bindHost, '0.0.0.0', `${role} binds every interface`);
        assert.notEqual(cfg.host, cfg.bindHost, `${role} advertises an address of its own`);
        const declared = new Map((c.ports ?? []).map((p) => [p.name ?? '', p.containerPort]));
        for (const [portName, port] of declared) {
          const option = PORT_OPTIONS[portName];
          assert.ok(option, `${role}: port ${portName} is not a noon listener`);
          assert.equal(
            port,
            cfg[option],
            `${role}: port ${portName} is ${port}, its option ${String(option)} says ${String(cfg[option])}`,
          );
        }
        assert.deepEqual([...declared.keys()].sort(), listenersOf(role, cfg).sort(), `${role}: the ports it binds`);
      }
    }
  });

  test(`${name}: ConfigMap, Secret and volume references resolve, and each pod mounts its own role's key only`, () => {
    for (const w of workloads(rs)) {
      const pod = w.spec.template.spec;
      const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
      for (const c of pod.containers) {
        const role = roleOf(c);
        for (const f of c.envFrom ?? []) {
          if (f.configMapRef)
            assert.ok(find(rs, 'ConfigMap', f.configMapRef.name), `${role}: ConfigMap ${f.configMapRef.name}`);
          if (f.secretRef) assert.ok(find(rs, 'Secret', f.secretRef.name), `${role}: Secret ${f.secretRef.name}`);
        }
        for (const m of c.volumeMounts ?? []) assert.ok(volumes.has(m.name), `${role}: volume ${m.name}`);
        const env = containerEnv(rs, c, FIELDS);
        for (const key of ['NOON_INTERNAL_KEY', 'NOON_INTERNAL_KEYRING', 'NOON_TLS_CERT', 'NOON_TLS_KEY']) {
          const path = env[key];
          if (path === undefined) continue;
          const mount = (c.volumeMounts ?? []).find((m) => path.startsWith(`${m.mountPath}/`));
          assert.ok(mount, `${role}: ${key}=${path} is on no mounted volume`);
          assert.ok(volumes.get(mount.name)?.secret, `${role}: ${key} comes from a Secret`);
        }
        assert.equal(env.NOON_INTERNAL_KEY, `/etc/noon/keys/${role}.key`, `${role}: its own key`);
      }
      for (const v of volumes.values()) {
        if (!v.secret) continue;
        const secret = find(rs, 'Secret', v.secret.secretName);
        assert.ok(secret, `${idOf(w)}: Secret ${v.secret.secretName}`);
        const keys = Object.keys(valuesOf(secret));
        for (const item of v.secret.items ?? [])
          assert.ok(keys.includes(item.key), `${idOf(w)}: ${v.secret.secretName} has no ${item.key}`);
        if (v.secret.secretName === 'noon-internal-keys') {
          const role = roleOf(pod.containers[0]!);
          assert.deepEqual((v.secret.items ?? []).map((i) => i.key).sort(), [`${role}.key`, 'keyring.json'].sort());
        }
      }
    }
  });

  test(`${name}: Services, PodDisruptionBudgets and the HPA select what exists`, () => {
    const ws = workloads(rs);
    const pods = ws.flatMap((w) => podLabelSets(w, rs).map((labels) => ({ w, labels })));
    for (const svc of rs.filter((r) => r.kind === 'Service')) {
      const spec = svc.spec as { selector: Record<string, string>; ports: Array<{ targetPort: string | number }> };
      const hits = pods.filter((p) => selects(spec.selector, p.labels));
      assert.ok(hits.length > 0, `${idOf(svc)} selects no pod`);
      for (const { w } of hits)
        for (const p of spec.ports)
          assert.ok(
            w.spec.template.spec.containers.some((c) =>
              (c.ports ?? []).some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort),
            ),
            `${idOf(svc)}: targetPort ${String(p.targetPort)} is not a port of ${idOf(w)}`,
          );
    }
    const services = rs.filter((r) => r.kind === 'Service');
    for (const w of ws) {
      if (w.kind === 'StatefulSet') {
        const svc = find(rs, 'Service', w.spec.serviceName ?? '');
        assert.ok(svc, `${idOf(w)}: its serviceName ${String(w.spec.serviceName)}`);
        assert.equal(
          (svc.spec as { clusterIP?: string }).clusterIP,
          'None',
          `${idOf(w)}: a headless governing Service`,
        );
      }
      const pdbs = rs.filter(
        (r) =>
          r.kind === 'PodDisruptionBudget' &&
          selects(
            (r.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels,
            w.spec.template.metadata.labels,
          ),
      );
      assert.equal(pdbs.length, 1, `${idOf(w)}: one PodDisruptionBudget`);
    }
    const role = (w: Workload): string => roleOf(w.spec.template.spec.containers[0]!);
    const brokerlist = ws.find((w) => role(w) === 'brokerlist')!;
    assert.ok(
      services.some(
        (s) =>
          (s.spec as { type?: string }).type === 'LoadBalancer' &&
          selects((s.spec as { selector: Record<string, string> }).selector, brokerlist.spec.template.metadata.labels),
      ),
      'BrokerList behind a public Service',
    );
    const hpas = rs.filter((r) => r.kind === 'HorizontalPodAutoscaler');
    assert.equal(hpas.length, 1);
    const hpa = hpas[0]!.spec as {
      scaleTargetRef: { apiVersion: string; kind: string; name: string };
      metrics: Array<{
        type: string;
        pods?: { metric: { name: string }; target: { type: string; averageValue: string } };
      }>;
    };
    const target = workloads(rs).find(
      (w) => w.kind === hpa.scaleTargetRef.kind && w.metadata.name === hpa.scaleTargetRef.name,
    );
    assert.ok(target && role(target) === 'broker', 'the HPA scales the brokers');
    assert.equal(hpa.metrics[0]?.type, 'Pods');
    assert.equal(hpa.metrics[0]?.pods?.metric.name, 'noon_broker_connections');
    assert.ok(Number(hpa.metrics[0]?.pods?.target.averageValue) > 0);
  });

  test(`${name}: NOON_YELLOW names every Yellow pod by its stable DNS name on the Yellow port`, () => {
    const yellow = workloads(rs).find((w) => roleOf(w.spec.template.spec.containers[0]!) === 'yellow')!;
    assert.equal(yellow.kind, 'StatefulSet');
    const cfg = loadConfig({}, valuesOf(find(rs, 'ConfigMap', 'noon-config')!));
    const want = Array.from(
      { length: yellow.spec.replicas ?? 1 },
      (_, i) => `tcp://${yellow.metadata.name}-${i}.${yellow.spec.serviceName}:${cfg.yellowPort}`,
    );
    assert.deepEqual(cfg.yellow, want);
  });
}

test('the overlay: brokers advertise their public names, one LoadBalancer per broker pod the HPA may run', () => {
  const rs = render(OVERLAY);
  const broker = workloads(rs).find((w) => w.kind === 'StatefulSet' && w.metadata.name === 'broker')!;
  const env = containerEnv(rs, broker.spec.template.spec.containers[0]!, { ...FIELDS, 'metadata.name': 'broker-3' });
  assert.equal(env.NOON_HOST, 'broker-3.play.example.com');
  const hpa = find(rs, 'HorizontalPodAutoscaler', 'broker')!.spec as { maxReplicas: number };
  for (let i = 0; i < hpa.maxReplicas; i++) {
    const svc = find(rs, 'Service', `broker-${i}`);
    assert.ok(svc, `Service broker-${i}`);
    assert.equal((svc.spec as { type: string }).type, 'LoadBalancer');
    assert.equal(
      (svc.metadata.annotations as Record<string, string>)['external-dns.alpha.kubernetes.io/hostname'],
      `broker-${i}.play.example.com`,
    );
  }
  assert.equal(find(rs, 'Service', `broker-${hpa.maxReplicas}`), undefined, 'no LoadBalancer past maxReplicas');
  for (const r of rs) assert.equal(r.metadata.namespace, 'noon', `${idOf(r)} in the overlay's namespace`);
  for (const w of workloads(rs))
    for (const c of w.spec.template.spec.containers) assert.equal(c.image, 'registry.example.com/studio/noon:0.1.0');
});

test('the renderer and `kubectl kustomize` render the same base and overlay', () => {
  for (const dir of [BASE, OVERLAY]) {
    const theirs = parseAllDocuments(
      execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 }),
    ).map((d) => d.toJS() as Resource);
    const mine = new Map(render(dir).map((r) => [idOf(r), r]));
    assert.deepEqual([...mine.keys()].sort(), theirs.map(idOf).sort(), dir);
    for (const r of theirs) assert.deepStrictEqual(mine.get(idOf(r)), r, `${dir}: ${idOf(r)}`);
  }
});

function pickKeys(from: Record<string, string>, like: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(like).map((k) => [k, from[k] as string]));
}
