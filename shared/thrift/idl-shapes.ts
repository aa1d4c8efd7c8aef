/**
 * What the Thrift JSON protocol needs from the IDL and the compact and binary wires do not carry:
 * which string-typed values are `binary` (base64 in JSON) rather than `string` (text). A shape
 * follows one message's fields down to each binary value; everything else is `plain` and is
 * translated from its wire type alone, so a field, struct or service the broker has no IDL for
 * still travels, its strings as text.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIdl, type FieldModel, type IdlModel, type StructModel } from './idl-model';

export type Shape =
  | { readonly kind: 'plain' }
  | { readonly kind: 'binary' }
  | { readonly kind: 'struct'; readonly fields: ReadonlyMap<number, Shape> }
  | { readonly kind: 'list'; readonly elem: Shape }
  | { readonly kind: 'map'; readonly key: Shape; readonly value: Shape };

export const PLAIN: Shape = { kind: 'plain' };
const BINARY: Shape = { kind: 'binary' };

/** "map<string,list<Unit>>" -> ["string", "list<Unit>"] (top-level commas only). */
function splitArgs(inner: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === '<') depth++;
    else if (c === '>') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(inner.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(inner.slice(start).trim());
  return parts;
}

export class IdlShapes {
  private readonly structs = new Map<string, StructModel>();
  private readonly functions = new Map<string, { returns: string; args: FieldModel[]; throws: FieldModel[] }>();
  private readonly memo = new Map<string, Shape>();

  constructor(models: readonly IdlModel[]) {
    for (const m of models) {
      for (const [name, s] of m.structs) this.structs.set(name, s);
      for (const [service, svc] of m.services)
        for (const [fn, f] of svc.functions) this.functions.set(`${service}:${fn}`, f);
    }
  }

  /** The argument struct of the call or push `Service:method`. */
  args(name: string): Shape {
    const f = this.functions.get(name);
    return f ? this.fieldsShape(`(${name} args)`, f.args) : PLAIN;
  }

  /** The result struct of `Service:method`: field 0 the return value, then its exceptions. */
  result(name: string): Shape {
    const f = this.functions.get(name);
    if (!f) return PLAIN;
    const fields = [{ id: 0, name: 'success', type: f.returns, required: 'default' as const }, ...f.throws];
    return this.fieldsShape(`(${name} result)`, fields);
  }

  /** The shape of one IDL type, by its name as the IDL model spells it. */
  typeShape(type: string): Shape {
    const t = type.replace(/\s+/g, '');
    if (t === 'binary') return BINARY;
    const open = t.indexOf('<');
    if (open > 0 && t.endsWith('>')) {
      const head = t.slice(0, open);
      const args = splitArgs(t.slice(open + 1, -1));
      if ((head === 'list' || head === 'set') && args.length === 1)
        return this.wrap({ kind: 'list', elem: this.typeShape(args[0] as string) });
      if (head === 'map' && args.length === 2)
        return this.wrap({
          kind: 'map',
          key: this.typeShape(args[0] as string),
          value: this.typeShape(args[1] as string),
        });
      return PLAIN;
    }
    // an included type is spelt "file.Type"; names are unique across noon's IDL files
    const name = this.structs.has(t) ? t : t.slice(t.lastIndexOf('.') + 1);
    const s = this.structs.get(name);
    return s ? this.fieldsShape(name, s.fields) : PLAIN;
  }

  /** A container of plain values is plain: nothing below it needs the IDL. */
  private wrap(shape: Shape): Shape {
    if (shape.kind === 'list') return shape.elem === PLAIN ? PLAIN : shape;
    if (shape.kind === 'map') return shape.key === PLAIN && shape.value === PLAIN ? PLAIN : shape;
    return shape;
  }

  private fieldsShape(key: string, fields: readonly FieldModel[]): Shape {
    const known = this.memo.get(key);
    if (known) return known;
    const map = new Map<number, Shape>();
    const shape: Shape = { kind: 'struct', fields: map };
    // set before the fields are filled in, so a recursive struct refers to itself
    this.memo.set(key, shape);
    for (const f of fields) {
      const s = this.typeShape(f.type);
      if (s !== PLAIN) map.set(f.id, s);
    }
    return shape;
  }
}

let noonShapes: IdlShapes | undefined;

/** noon's own IDL (noon.thrift), read once per process: from the source tree or the package. */
export function builtinShapes(): IdlShapes {
  if (noonShapes) return noonShapes;
  const candidates = [
    join(__dirname, '..', 'protocol', 'noon.thrift'),
    join(__dirname, '..', '..', '..', 'shared', 'protocol', 'noon.thrift'),
  ];
  const file = candidates.find((f) => existsSync(f));
  if (!file) throw new Error(`noon's IDL (noon.thrift) is missing; looked in ${candidates.join(', ')}`);
  noonShapes = new IdlShapes([parseIdl(readFileSync(file, 'utf8'), file)]);
  return noonShapes;
}
