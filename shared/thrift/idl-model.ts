/**
 * A Thrift IDL file reduced to what the wire depends on: field ids, types and requiredness of
 * every struct, union, exception and function argument list, enum values, and each service's
 * functions. Parsed with @creditkarma/thrift-parser (the parser noon's code generator uses).
 * Typedefs are resolved (an alias is the same type on the wire); consts and namespaces do not
 * travel and are left out.
 */
import { createRequire } from 'node:module';
import type * as Parser from '@creditkarma/thrift-parser';

export type Requiredness = 'required' | 'optional' | 'default';

export interface FieldModel {
  id: number;
  name: string;
  /** the wire type, typedefs resolved: "i64", "list<noon.Unit>", "map<string,bool>" */
  type: string;
  required: Requiredness;
}

export interface StructModel {
  kind: 'struct' | 'union' | 'exception';
  fields: FieldModel[];
}

export interface FunctionModel {
  returns: string;
  oneway: boolean;
  args: FieldModel[];
  throws: FieldModel[];
}

export interface ServiceModel {
  extends: string | undefined;
  functions: Map<string, FunctionModel>;
}

export interface IdlModel {
  enums: Map<string, Map<string, number>>;
  structs: Map<string, StructModel>;
  services: Map<string, ServiceModel>;
}

export class IdlError extends Error {
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'IdlError';
  }
}

/** The generator's own parser: resolved through it, so noon adds no dependency of its own. */
function thriftParser(): typeof Parser {
  const generator = require.resolve('@creditkarma/thrift-typescript');
  return createRequire(generator)('@creditkarma/thrift-parser') as typeof Parser;
}

export function parseIdl(text: string, file: string): IdlModel {
  const parser = thriftParser();
  const { SyntaxType: T } = parser;
  const doc = parser.parse(text);
  if (doc.type === T.ThriftErrors) {
    const first = doc.errors[0];
    const where = first ? `line ${first.loc.start.line}: ${first.message}` : 'unparseable';
    throw new IdlError(file, where);
  }
  const typedefs = new Map<string, Parser.FieldType>();
  for (const d of doc.body) if (d.type === T.TypedefDefinition) typedefs.set(d.name.value, d.definitionType);

  const typeName = (t: Parser.FunctionType, seen: ReadonlySet<string> = new Set()): string => {
    switch (t.type) {
      case T.ListType:
        return `list<${typeName(t.valueType, seen)}>`;
      case T.SetType:
        return `set<${typeName(t.valueType, seen)}>`;
      case T.MapType:
        return `map<${typeName(t.keyType, seen)},${typeName(t.valueType, seen)}>`;
      case T.Identifier: {
        const alias = typedefs.get(t.value);
        if (alias === undefined || seen.has(t.value)) return t.value;
        return typeName(alias, new Set([...seen, t.value]));
      }
      case T.VoidKeyword:
        return 'void';
      default:
        return keyword(t.type);
    }
  };
  const fields = (owner: string, list: Parser.FieldDefinition[]): FieldModel[] =>
    list.map((f) => {
      if (f.fieldID === null)
        throw new IdlError(file, `${owner}.${f.name.value} has no field id (line ${f.loc.start.line})`);
      return {
        id: f.fieldID.value,
        name: f.name.value,
        type: typeName(f.fieldType),
        required: f.requiredness ?? 'default',
      };
    });

  const model: IdlModel = { enums: new Map(), structs: new Map(), services: new Map() };
  for (const d of doc.body) {
    switch (d.type) {
      case T.EnumDefinition: {
        const values = new Map<string, number>();
        let next = 0;
        for (const m of d.members) {
          const value = m.initializer === null ? next : Number(m.initializer.value.value);
          values.set(m.name.value, value);
          next = value + 1;
        }
        model.enums.set(d.name.value, values);
        break;
      }
      case T.StructDefinition:
      case T.UnionDefinition:
      case T.ExceptionDefinition: {
        const kind = d.type === T.StructDefinition ? 'struct' : d.type === T.UnionDefinition ? 'union' : 'exception';
        model.structs.set(d.name.value, { kind, fields: fields(d.name.value, d.fields) });
        break;
      }
      case T.ServiceDefinition: {
        const functions = new Map<string, FunctionModel>();
        for (const f of d.functions) {
          const owner = `${d.name.value}.${f.name.value}`;
          functions.set(f.name.value, {
            returns: typeName(f.returnType),
            oneway: f.oneway,
            args: fields(owner, f.fields),
            throws: fields(owner, f.throws),
          });
        }
        model.services.set(d.name.value, { extends: d.extends?.value, functions });
        break;
      }
      default:
        break;
    }
  }
  return model;
}

/** "I64Keyword" -> "i64"; byte and i8 are one wire type. */
function keyword(type: string): string {
  const name = type.replace(/Keyword$/, '').toLowerCase();
  return name === 'byte' ? 'i8' : name;
}
