/**
 * A small kustomize: renders a kustomization directory with the features the deploy kit uses, so
 * its tests need neither a cluster nor kubectl. Supported: `resources` (files and directories
 * holding a kustomization), `namespace`, `labels` (pairs, includeSelectors, includeTemplates),
 * `images` (newName, newTag), and `patches` (a strategic-merge file, or JSON 6902 operations
 * inline or in a file, with a target). Anything else in a kustomization fails, naming it, so the
 * kit cannot grow a feature this renderer would silently ignore.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Obj = { [k: string]: Json };
export interface Resource extends Obj {
  apiVersion: string;
  kind: string;
  metadata: Obj & { name: string };
}

const KNOWN_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'labels', 'images', 'patches']);
/** Kinds that live in a namespace (everything the kit has). */
const NAMESPACED = new Set([
  'ConfigMap',
  'Secret',
  'Service',
  'Deployment',
  'StatefulSet',
  'PodDisruptionBudget',
  'HorizontalPodAutoscaler',
]);
/** Strategic-merge lists merged by a key instead of replaced (those of the kit's kinds). */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'name',
  imagePullSecrets: 'name',
};

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(where: string, problem: string): never {
  throw new Error(`${where}: ${problem}`);
}

/** Every YAML document of a file, empty documents skipped. */
export function readYamlDocs(file: string): Json[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const out: Json[] = [];
  for (const d of docs) {
    if (d.errors.length > 0) fail(file, d.errors.map((e) => e.message).join('; '));
    const v = d.toJS() as Json;
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

function asResource(v: Json, file: string): Resource {
  if (!isObj(v) || typeof v.apiVersion !== 'string' || typeof v.kind !== 'string')
    fail(file, 'a document without apiVersion and kind');
  const md = v.metadata;
  if (!isObj(md) || typeof md.name !== 'string') fail(file, `a ${String(v.kind)} without metadata.name`);
  return v as Resource;
}

const clone = <T extends Json>(v: T): T => structuredClone(v);

/** Renders the kustomization in `dir` to its resources, in kustomize's order of `resources`. */
export function renderKustomization(dir: string): Resource[] {
  const file = join(dir, 'kustomization.yaml');
  if (!existsSync(file)) fail(dir, 'no kustomization.yaml');
  const [k] = readYamlDocs(file);
  if (!isObj(k)) fail(file, 'not a mapping');
  for (const key of Object.keys(k)) if (!KNOWN_FIELDS.has(key)) fail(file, `field ${key} is not supported here`);

  let out: Resource[] = [];
  for (const r of (k.resources ?? []) as string[]) {
    const path = join(dir, r);
    if (statSync(path).isDirectory()) out.push(...renderKustomization(path));
    else out.push(...readYamlDocs(path).map((d) => asResource(d, path)));
  }
  const ids = new Set<string>();
  for (const r of out) {
    const id = idOf(r);
    if (ids.has(id)) fail(file, `${id} is defined twice`);
    ids.add(id);
  }
  for (const p of (k.patches ?? []) as Obj[]) out = applyPatch(out, p, dir);
  if (typeof k.namespace === 'string')
    for (const r of out) if (NAMESPACED.has(r.kind)) r.metadata.namespace = k.namespace;
  for (const l of (k.labels ?? []) as Obj[]) for (const r of out) addLabels(r, l);
  for (const img of (k.images ?? []) as Obj[]) for (const r of out) setImage(r, img);
  return out;
}

export function idOf(r: { kind: string; metadata: { name: string } }): string {
  return `${r.kind}/${r.metadata.name}`;
}

function groupVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf('/');
  return i < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

function matchesTarget(r: Resource, t: Obj): boolean {
  const gv = groupVersion(r.apiVersion);
  return (
    (t.kind === undefined || t.kind === r.kind) &&
    (t.name === undefined || t.name === r.metadata.name) &&
    (t.group === undefined || t.group === gv.group) &&
    (t.version === undefined || t.version === gv.version)
  );
}

function applyPatch(resources: Resource[], p: Obj, dir: string): Resource[] {
  const where = `patch ${typeof p.path === 'string' ? p.path : JSON.stringify(p.target)}`;
  const text = typeof p.path === 'string' ? readFileSync(join(dir, p.path), 'utf8') : p.patch;
  if (typeof text !== 'string') fail(where, 'neither path nor patch');
  const docs = parseAllDocuments(text).map((d) => d.toJS() as Json);
  const isJson6902 = docs.length === 1 && Array.isArray(docs[0]);
  if (isJson6902) {
    if (!isObj(p.target)) fail(where, 'JSON 6902 operations need a target');
    const target = p.target;
    const hits = resources.filter((r) => matchesTarget(r, target));
    if (hits.length === 0) fail(where, 'its target matches no resource');
    return resources.map((r) => (hits.includes(r) ? applyJson6902(r, docs[0] as Obj[], where) : r));
  }
  let out = resources;
  for (const doc of docs) {
    const patch = asResource(doc, where);
    const target = isObj(p.target) ? p.target : { kind: patch.kind, name: patch.metadata.name };
    const hits = out.filter((r) => matchesTarget(r, target));
    if (hits.length === 0) fail(where, `no ${patch.kind} ${patch.metadata.name} to patch`);
    out = out.map((r) => (hits.includes(r) ? (strategicMerge(r, patch) as Resource) : r));
  }
  return out;
}

/** Strategic merge: maps merge, null deletes, known lists merge by key, other lists are replaced. */
export function strategicMerge(base: Json, patch: Json, field = ''): Json {
  if (isObj(base) && isObj(patch)) {
    const out: Obj = clone(base);
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else out[k] = k in out ? strategicMerge(out[k] as Json, v, k) : clone(v);
    }
    return out;
  }
  const key = MERGE_KEYS[field];
  if (key && Array.isArray(base) && Array.isArray(patch)) {
    const out = base.map((x) => clone(x));
    for (const item of patch) {
      const i = out.findIndex((x) => isObj(x) && isObj(item) && x[key] === item[key]);
      if (i >= 0) out[i] = strategicMerge(out[i] as Json, item);
      else out.push(clone(item));
    }
    return out;
  }
  return clone(patch);
}

function pointer(path: string): string[] {
  if (!path.startsWith('/')) throw new Error(`JSON pointer ${path} does not start with /`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function applyJson6902(r: Resource, ops: Obj[], where: string): Resource {
  const doc = clone(r as Obj);
  for (const op of ops) {
    const parts = pointer(String(op.path));
    const last = parts.pop() as string;
    let parent: Json = doc;
    for (const p of parts) {
      const next: Json | undefined = Array.isArray(parent) ? parent[Number(p)] : isObj(parent) ? parent[p] : undefined;
      if (next === undefined) fail(where, `path ${String(op.path)} does not exist in ${idOf(r)}`);
      parent = next;
    }
    const value = op.value === undefined ? undefined : clone(op.value);
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(i) || i < 0 || i > parent.length) fail(where, `bad index in ${String(op.path)}`);
      if (op.op === 'add') parent.splice(i, 0, value as Json);
      else if (op.op === 'replace' && i < parent.length) parent[i] = value as Json;
      else if (op.op === 'remove' && i < parent.length) parent.splice(i, 1);
      else fail(where, `cannot ${String(op.op)} ${String(op.path)}`);
    } else if (isObj(parent)) {
      if (op.op === 'add') parent[last] = value as Json;
      else if (op.op === 'replace' && last in parent) parent[last] = value as Json;
      else if (op.op === 'remove' && last in parent) delete parent[last];
      else fail(where, `cannot ${String(op.op)} ${String(op.path)}`);
    } else fail(where, `path ${String(op.path)} does not exist in ${idOf(r)}`);
  }
  return doc as Resource;
}

function podTemplateOf(r: Resource): Obj | undefined {
  const spec = r.spec;
  return isObj(spec) && isObj(spec.template) ? spec.template : undefined;
}

function mergeInto(holder: Obj, field: string, pairs: Obj): void {
  holder[field] = { ...(isObj(holder[field]) ? holder[field] : {}), ...pairs };
}

function addLabels(r: Resource, l: Obj): void {
  const pairs = l.pairs as Obj;
  mergeInto(r.metadata, 'labels', pairs);
  const template = podTemplateOf(r);
  if ((l.includeTemplates === true || l.includeSelectors === true) && template) {
    template.metadata = isObj(template.metadata) ? template.metadata : {};
    mergeInto(template.metadata, 'labels', pairs);
  }
  if (l.includeSelectors === true) {
    const spec = r.spec as Obj | undefined;
    if (!spec) return;
    if (r.kind === 'Service') mergeInto(spec, 'selector', pairs);
    else if (isObj(spec.selector)) mergeInto(spec.selector, 'matchLabels', pairs);
  }
}

/** The image name without tag or digest. */
function imageName(image: string): string {
  const at = image.indexOf('@');
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  const colon = noDigest.lastIndexOf(':');
  return colon > noDigest.lastIndexOf('/') ? noDigest.slice(0, colon) : noDigest;
}

function setImage(r: Resource, img: Obj): void {
  const spec = podTemplateOf(r)?.spec;
  if (!isObj(spec)) return;
  for (const list of [spec.containers, spec.initContainers]) {
    if (!Array.isArray(list)) continue;
    for (const c of list) {
      if (!isObj(c) || typeof c.image !== 'string' || imageName(c.image) !== img.name) continue;
      const tag = c.image.slice(imageName(c.image).length);
      const name = typeof img.newName === 'string' ? img.newName : (img.name as string);
      c.image = `${name}${typeof img.newTag === 'string' ? `:${img.newTag}` : tag}`;
    }
  }
}
