/**
 * `noon idl:check`: the IDL as it is now against the last released IDL (a snapshot kept in the
 * repository, `<idl>/released/`), naming every change that would break a client or service still
 * running the released code. Additions pass: new structs, services, methods, enum values, and
 * fields that are not required. `noon idl:release` cuts the snapshot.
 *
 * What breaks: a struct, enum, service, method, field or enum value removed; a field renumbered
 * or retyped; a field made required, or a required one added or made optional (the older side
 * refuses a message without it); an enum value renumbered; a method's return type, oneway flag,
 * arguments or exceptions changed the same ways. A field or enum value renamed under the same id
 * is the same thing on the wire and passes.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { IdlError, parseIdl, type FieldModel, type IdlModel } from '../shared/thrift/idl-model';

/** Every breaking change from `released` to `current`, each a sentence naming what changed. */
export function breakingChanges(released: IdlModel, current: IdlModel): string[] {
  const out: string[] = [];
  for (const [name, values] of released.enums) {
    const now = current.enums.get(name);
    if (!now) {
      out.push(`enum ${name} removed`);
      continue;
    }
    const byValue = new Map([...now].map(([n, v]) => [v, n]));
    for (const [member, value] of values) {
      const moved = now.get(member);
      if (moved !== undefined && moved !== value)
        out.push(`enum ${name}: ${member} renumbered from ${value} to ${moved}`);
      else if (moved === undefined && !byValue.has(value)) out.push(`enum ${name}: ${member} (${value}) removed`);
    }
  }
  for (const [name, s] of released.structs) {
    const now = current.structs.get(name);
    if (!now) out.push(`${s.kind} ${name} removed`);
    else if (now.kind !== s.kind)
      out.push(`${s.kind} ${name} became ${now.kind === 'exception' ? 'an' : 'a'} ${now.kind}`);
    else out.push(...fieldChanges(`${s.kind} ${name}`, 'field', s.fields, now.fields));
  }
  for (const [name, svc] of released.services) {
    const now = current.services.get(name);
    if (!now) {
      out.push(`service ${name} removed`);
      continue;
    }
    if (now.extends !== svc.extends)
      out.push(`service ${name} extends ${now.extends ?? 'nothing'} instead of ${svc.extends ?? 'nothing'}`);
    for (const [fn, f] of svc.functions) {
      const g = now.functions.get(fn);
      const label = `${name}.${fn}`;
      if (!g) {
        out.push(`method ${label} removed`);
        continue;
      }
      if (g.returns !== f.returns) out.push(`method ${label} returns ${g.returns} instead of ${f.returns}`);
      if (g.oneway !== f.oneway) out.push(`method ${label} ${g.oneway ? 'became' : 'is no longer'} oneway`);
      out.push(...fieldChanges(`method ${label}`, 'argument', f.args, g.args));
      out.push(...fieldChanges(`method ${label}`, 'exception', f.throws, g.throws));
    }
  }
  return out;
}

function fieldChanges(owner: string, what: string, before: FieldModel[], after: FieldModel[]): string[] {
  const out: string[] = [];
  const byId = new Map(after.map((f) => [f.id, f]));
  const beforeIds = new Set(before.map((f) => f.id));
  for (const f of before) {
    const now = byId.get(f.id);
    const label = `${owner}: ${what} ${f.name} (${f.id})`;
    if (!now) {
      const moved = after.find((g) => g.name === f.name && !beforeIds.has(g.id));
      out.push(moved ? `${label} renumbered to ${moved.id}` : `${label} removed`);
      continue;
    }
    if (now.type !== f.type) out.push(`${label} retyped from ${f.type} to ${now.type}`);
    if (now.required === 'required' && f.required !== 'required') out.push(`${label} made required`);
    if (f.required === 'required' && now.required !== 'required')
      out.push(`${label} is no longer required (older readers refuse a message without it)`);
  }
  for (const g of after)
    if (!beforeIds.has(g.id) && g.required === 'required')
      out.push(`${owner}: ${what} ${g.name} (${g.id}) added as required (older writers do not send it)`);
  return out;
}

const thriftFiles = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.thrift'))
        .sort()
    : [];

export interface IdlCheck {
  /** the released files compared */
  files: string[];
  /** "<file>: <change>", one per breaking change */
  breaking: string[];
}

/** Compares every released file with the file of the same name in `currentDir`. */
export function checkIdl(currentDir: string, releasedDir: string): IdlCheck {
  const files = thriftFiles(releasedDir);
  if (files.length === 0)
    throw new IdlError(releasedDir, 'holds no released IDL (.thrift): cut one with `noon idl:release` first');
  const breaking: string[] = [];
  for (const file of files) {
    const currentFile = join(currentDir, file);
    if (!existsSync(currentFile)) {
      breaking.push(`${file}: removed (it was released)`);
      continue;
    }
    const released = parseIdl(readFileSync(join(releasedDir, file), 'utf8'), join(releasedDir, file));
    const current = parseIdl(readFileSync(currentFile, 'utf8'), currentFile);
    for (const change of breakingChanges(released, current)) breaking.push(`${file}: ${change}`);
  }
  return { files, breaking };
}

/** The release snapshot: `releasedDir` becomes a copy of the IDL files in `currentDir` (each parsed first). */
export function cutRelease(currentDir: string, releasedDir: string): string[] {
  const files = thriftFiles(currentDir);
  if (files.length === 0) throw new IdlError(currentDir, 'holds no IDL (.thrift) to release');
  for (const f of files) parseIdl(readFileSync(join(currentDir, f), 'utf8'), join(currentDir, f));
  mkdirSync(releasedDir, { recursive: true });
  // Only IDL files are replaced: a released file gone from the IDL leaves the snapshot too.
  for (const f of thriftFiles(releasedDir)) rmSync(join(releasedDir, f));
  for (const f of files) copyFileSync(join(currentDir, f), join(releasedDir, f));
  return files;
}

/** The check as a person reads it: what was compared, then each breaking change on its own line. */
export function describeIdlCheck(check: IdlCheck, releasedDir: string): string {
  const against = `${check.files.join(', ')} as released in ${releasedDir}`;
  if (check.breaking.length === 0) return `noon idl:check: no breaking change since ${against}\n`;
  const lines = check.breaking.map((b) => `  ${b}\n`).join('');
  return `noon idl:check: ${check.breaking.length} breaking change(s) since ${against}:\n${lines}`;
}
