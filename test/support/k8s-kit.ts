/**
 * The deploy kit (deploy/k8s) as data for tests: its rendered base and overlay, the workloads in
 * it, and what a container would see at run time (its environment with ConfigMap and Secret
 * values filled in, the downward API's fields given by the caller).
 */
import { join } from 'node:path';
import { ROOT } from './process';
import { renderKustomization, type Json, type Obj, type Resource } from './kustomize';

export const KIT = join(ROOT, 'deploy', 'k8s');
export const BASE = join(KIT, 'base');
export const OVERLAY = join(KIT, 'overlays', 'example');

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    configMapKeyRef?: { name: string; key: string };
    secretKeyRef?: { name: string; key: string };
  };
}
export interface Port {
  name?: string;
  containerPort: number;
  hostPort?: number;
}
export interface Probe {
  httpGet?: { path: string; port: string | number };
  periodSeconds?: number;
}
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  ports?: Port[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  securityContext?: Obj;
}
export interface Volume {
  name: string;
  secret?: { secretName: string; items?: Array<{ key: string; path: string }> };
  configMap?: { name: string };
  emptyDir?: Obj;
}
export interface PodSpec {
  containers: Container[];
  volumes?: Volume[];
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
}
export interface Workload {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: {
    replicas?: number;
    serviceName?: string;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
}

export const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet']);

export function render(dir: string): Resource[] {
  return renderKustomization(dir);
}

export function workloads(rs: Resource[]): Workload[] {
  return rs.filter((r) => WORKLOAD_KINDS.has(r.kind)) as unknown as Workload[];
}

export function find(rs: Resource[], kind: string, name: string): Resource | undefined {
  return rs.find((r) => r.kind === kind && r.metadata.name === name);
}

/** The string values of a ConfigMap or Secret (data base64-decoded, stringData as is). */
export function valuesOf(r: Resource): Record<string, string> {
  const out: Record<string, string> = {};
  const data = (r.data ?? {}) as Record<string, Json>;
  for (const [k, v] of Object.entries(data))
    out[k] = r.kind === 'Secret' ? Buffer.from(String(v), 'base64').toString('utf8') : String(v);
  for (const [k, v] of Object.entries((r.stringData ?? {}) as Record<string, Json>)) out[k] = String(v);
  return out;
}

/**
 * The environment a container starts with, as the kubelet makes it: envFrom first, then env in
 * order (later wins), `$(VAR)` expanded from what was defined before, fieldRefs from `fields`.
 */
export function containerEnv(rs: Resource[], c: Container, fields: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  const source = (kind: string, name: string): Record<string, string> => {
    const r = find(rs, kind, name);
    if (!r) throw new Error(`container ${c.name}: no ${kind} ${name}`);
    return valuesOf(r);
  };
  for (const f of c.envFrom ?? []) {
    if (f.configMapRef) Object.assign(env, source('ConfigMap', f.configMapRef.name));
    if (f.secretRef) Object.assign(env, source('Secret', f.secretRef.name));
  }
  for (const e of c.env ?? []) {
    const from = e.valueFrom;
    if (from?.fieldRef) {
      const v = fields[from.fieldRef.fieldPath];
      if (v === undefined) throw new Error(`container ${c.name}: no value for field ${from.fieldRef.fieldPath}`);
      env[e.name] = v;
    } else if (from?.configMapKeyRef) {
      env[e.name] = source('ConfigMap', from.configMapKeyRef.name)[from.configMapKeyRef.key] ?? '';
    } else if (from?.secretKeyRef) {
      env[e.name] = source('Secret', from.secretKeyRef.name)[from.secretKeyRef.key] ?? '';
    } else {
      env[e.name] = (e.value ?? '').replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => env[v] ?? m);
    }
  }
  return env;
}

/** The role a container runs: its args are `start <role>`. */
export function roleOf(c: Container): string {
  const args = [...(c.command ?? []), ...(c.args ?? [])];
  if (args.length !== 2 || args[0] !== 'start') throw new Error(`container ${c.name}: args ${JSON.stringify(args)}`);
  return args[1] as string;
}

/** The port a probe names, as a number (a named port looked up in the container's ports). */
export function probePort(c: Container, p: Probe): number | undefined {
  const port = p.httpGet?.port;
  if (typeof port === 'number') return c.ports?.some((x) => x.containerPort === port) ? port : undefined;
  return c.ports?.find((x) => x.name === port)?.containerPort;
}
