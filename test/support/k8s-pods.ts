/**
 * A stand-in kubelet for tests: runs a workload's container from the deploy kit on this machine
 * the way Kubernetes would, from the compiled image layout. The command is the image's entry
 * point (Dockerfile) plus the container's args; the environment is the image's ENV, then the
 * container's envFrom and env (ConfigMaps, Secrets, the downward API); Secret volumes are files.
 *
 * What a pod's own network namespace gives it, one machine gives by address: each pod gets a
 * loopback address of its own (127.a.b.x, a and b chosen per run) as its pod IP, and binds that instead of 0.0.0.0, so
 * two pods can hold the same fixed ports. Stable DNS names (`yellow-0.yellow`) in NOON_YELLOW
 * are resolved to the named pod's address, as the cluster's DNS would. Paths under a volume's
 * mountPath point into the pod's own folder.
 */
import { buildSync } from 'esbuild';
import { chmodSync, cpSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Resource } from './kustomize';
import { containerEnv, probePort, roleOf, type Container, type Workload } from './k8s-kit';
import { imageConfig, parseDockerfile, type ImageConfig } from './dockerfile';
import { ROOT, TestProcess } from './process';

export const DOCKERFILE = join(ROOT, 'Dockerfile');

export interface Image {
  /** the folder standing for the image's WORKDIR */
  root: string;
  config: ImageConfig;
}

/** The folders tsconfig.build.json compiles into dist/. */
function buildIncludes(): string[] {
  const cfg = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
  return cfg.include.map((p) => p.replace(/\/\*\*\/\*$/, ''));
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/**
 * The runtime stage's layout without Docker: the sources tsconfig.build.json covers, compiled
 * to CommonJS in dist/ (by esbuild, file by file: seconds, where tsc's type-checking build takes
 * minutes on a busy machine; the type-checked build itself is the package test's), the run-time
 * assets scripts/build.js copies, bin/, the IDL and package.json under `root`, and this
 * checkout's node_modules linked.
 */
export function buildImage(root: string): Image {
  const config = imageConfig(parseDockerfile(DOCKERFILE));
  const dist = join(root, 'dist');
  const files = buildIncludes().flatMap((d) => tsFiles(join(ROOT, d)));
  buildSync({
    entryPoints: files,
    outdir: dist,
    outbase: ROOT,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  });
  const copy = (from: string, to: string, keep: (f: string) => boolean): void => {
    mkdirSync(to, { recursive: true });
    for (const f of readdirSync(from).filter(keep)) cpSync(join(from, f), join(to, f));
  };
  copy(join(ROOT, 'loadtest', 'scenarios'), join(dist, 'loadtest', 'scenarios'), (f) => f.endsWith('.json'));
  copy(join(ROOT, 'shared', 'protocol'), join(dist, 'shared', 'protocol'), (f) => f.endsWith('.thrift'));
  copy(join(ROOT, 'shared', 'protocol'), join(root, 'shared', 'protocol'), (f) => f.endsWith('.thrift'));
  cpSync(join(ROOT, 'bin'), join(root, 'bin'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  return { root, config };
}

/** An image path (under WORKDIR) as a path in the built folder. */
export function inImage(image: Image, path: string): string {
  const wd = image.config.workdir.replace(/\/$/, '');
  return path.startsWith(`${wd}/`) ? join(image.root, path.slice(wd.length + 1)) : path;
}

export interface KubeletOptions {
  image: Image;
  /** the rendered kit, with the Secrets' placeholders replaced by real values */
  resources: Resource[];
  /** one folder per pod is made in here */
  podsDir: string;
  /** pod IPs are `<ipPrefix>.1`, `.2`, …: three octets of 127/8 */
  ipPrefix: string;
  /** extra environment for every node process (e.g. NODE_OPTIONS), not noon options */
  processEnv?: Record<string, string>;
}

export class Pod {
  readonly role: string;
  readonly metricsPort: number;
  readonly preStopSeconds: number;
  readonly graceSeconds: number;
  terminating = false;

  constructor(
    readonly name: string,
    readonly ip: string,
    readonly workload: Workload,
    readonly container: Container,
    readonly env: Record<string, string>,
    readonly proc: TestProcess,
  ) {
    this.role = roleOf(container);
    const port = container.readinessProbe ? probePort(container, container.readinessProbe) : undefined;
    if (port === undefined) throw new Error(`${name}: no readiness probe port`);
    this.metricsPort = port;
    this.preStopSeconds = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
    this.graceSeconds = workload.spec.template.spec.terminationGracePeriodSeconds ?? 30;
  }

  /** One probe as the kubelet makes it: the status code, or 0 when nothing answers. */
  async probe(path: '/readyz' | '/healthz'): Promise<{ status: number; body: string }> {
    try {
      const r = await fetch(`http://${this.ip}:${this.metricsPort}${path}`, { signal: AbortSignal.timeout(2000) });
      return { status: r.status, body: (await r.text()).trim() };
    } catch {
      return { status: 0, body: '' };
    }
  }
}

export class Kubelet {
  readonly pods = new Map<string, Pod>();
  /** cluster DNS: `<pod>.<service>` -> pod IP */
  private readonly dns = new Map<string, string>();
  private nextIp = 1;
  private starts = 0;

  constructor(private readonly opts: KubeletOptions) {}

  private allocateIp(): string {
    if (this.nextIp > 250) throw new Error('out of pod addresses');
    return `${this.opts.ipPrefix}.${this.nextIp++}`;
  }

  /**
   * Starts pod `name` of workload `w` (its first container). A StatefulSet pod started again
   * keeps its address here: in a cluster it gets a new IP and its DNS name follows it, which
   * ZeroMQ resolves again on each reconnect; the processes here were given the address itself.
   */
  start(w: Workload, name: string): Pod {
    const { image, resources, podsDir } = this.opts;
    const dnsName = w.kind === 'StatefulSet' && w.spec.serviceName ? `${name}.${w.spec.serviceName}` : undefined;
    const ip = (dnsName && this.dns.get(dnsName)) || this.allocateIp();
    const spec = w.spec.template.spec;
    const c = spec.containers[0]!;
    const podDir = join(podsDir, `${name}-${++this.starts}`);
    if (dnsName) this.dns.set(dnsName, ip);
    const mounts = this.mountVolumes(w, c, podDir);
    const fields = { 'status.podIP': ip, 'metadata.name': name, 'status.hostIP': '127.0.0.1' };
    const env: Record<string, string> = { ...image.config.env, ...containerEnv(resources, c, fields) };
    for (const [k, v] of Object.entries(env)) {
      let value = mounts.get(v) ?? v;
      for (const [mountPath, dir] of mounts) value = value.split(`${mountPath}/`).join(`${dir}/`);
      env[k] = value;
    }
    if (env.NOON_BIND_HOST === '0.0.0.0') env.NOON_BIND_HOST = ip;
    if (env.NOON_YELLOW)
      env.NOON_YELLOW = env.NOON_YELLOW.replace(/tcp:\/\/([^:,]+):/g, (m, host: string) => {
        const resolved = this.dns.get(host);
        return resolved ? `tcp://${resolved}:` : m;
      });
    const entry = image.config.entrypoint.map((a) => inImage(image, a));
    if (entry[0] !== 'node') throw new Error(`the image's entry point is not node: ${entry.join(' ')}`);
    const argv = [...entry.slice(1), ...(c.args ?? image.config.cmd)];
    const processEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: podDir, ...this.opts.processEnv, ...env };
    const proc = new TestProcess(argv, processEnv, `pod ${name}`, { cwd: image.root });
    const pod = new Pod(name, ip, w, c, env, proc);
    this.pods.set(name, pod);
    return pod;
  }

  /** Secret volumes as files (items only, when listed), emptyDirs as folders; mountPath -> folder. */
  private mountVolumes(w: Workload, c: Container, podDir: string): Map<string, string> {
    const mounts = new Map<string, string>();
    const volumes = new Map((w.spec.template.spec.volumes ?? []).map((v) => [v.name, v]));
    for (const m of c.volumeMounts ?? []) {
      const dir = join(podDir, m.mountPath);
      mkdirSync(dir, { recursive: true });
      mounts.set(m.mountPath, dir);
      const v = volumes.get(m.name);
      if (!v?.secret) continue;
      const secretName = v.secret.secretName;
      const secret = this.opts.resources.find((r) => r.kind === 'Secret' && r.metadata.name === secretName);
      const values = (secret?.stringData ?? {}) as Record<string, string>;
      const items = v.secret.items ?? Object.keys(values).map((key) => ({ key, path: key }));
      for (const item of items) {
        const file = join(dir, item.path);
        writeFileSync(file, values[item.key] ?? '', { mode: 0o600 });
        chmodSync(file, 0o400);
      }
    }
    return mounts;
  }
}
