/**
 * Runs a parsed query against one record. Conditions are compiled once into closures (a tap or a
 * channel runs its filter per message). Logic is SQL's three-valued one: a test on a missing
 * field, or on a value of another type, is unknown, and only a condition that is true matches,
 * so `NOT level > 10` does not match a message without a level.
 */
import type { Expr, Literal, Query } from './parse';

export type Row = Readonly<Record<string, unknown>>;
/** true, false or unknown (undefined) */
type Truth = boolean | undefined;
type Test = (row: Row) => Truth;

const own = (row: Row, field: string): unknown => (Object.hasOwn(row, field) ? row[field] : undefined);

/** A value as the language sees it: bigint becomes a number, anything else unknown. */
function scalar(v: unknown): Literal | undefined {
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isNaN(v) ? undefined : v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

function compare(a: Literal, op: string, b: Literal): Truth {
  if (typeof a !== typeof b) return undefined;
  switch (op) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    default:
      return a >= b;
  }
}

/** LIKE's pattern as a regular expression: % is any run, _ is one character, the rest is literal. */
export function likeToRegExp(pattern: string): RegExp {
  let source = '';
  for (const c of pattern) {
    if (c === '%') source += '.*';
    else if (c === '_') source += '.';
    else source += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

function compile(e: Expr): Test {
  switch (e.kind) {
    case 'and': {
      const [l, r] = [compile(e.left), compile(e.right)];
      return (row) => {
        const a = l(row);
        if (a === false) return false;
        const b = r(row);
        if (b === false) return false;
        return a === true && b === true ? true : undefined;
      };
    }
    case 'or': {
      const [l, r] = [compile(e.left), compile(e.right)];
      return (row) => {
        const a = l(row);
        if (a === true) return true;
        const b = r(row);
        if (b === true) return true;
        return a === false && b === false ? false : undefined;
      };
    }
    case 'not': {
      const inner = compile(e.arg);
      return (row) => {
        const t = inner(row);
        return t === undefined ? undefined : !t;
      };
    }
    case 'compare':
      return (row) => {
        const v = scalar(own(row, e.field));
        return v === undefined ? undefined : compare(v, e.op, e.value);
      };
    case 'like': {
      const re = likeToRegExp(e.pattern);
      return (row) => {
        const v = own(row, e.field);
        if (typeof v !== 'string') return undefined;
        return re.test(v) !== e.negated;
      };
    }
    case 'in':
      return (row) => {
        const v = scalar(own(row, e.field));
        if (v === undefined) return undefined;
        return e.values.includes(v) !== e.negated;
      };
    case 'null':
      return (row) => (own(row, e.field) === undefined || own(row, e.field) === null) !== e.negated;
  }
}

export interface CompiledQuery {
  /** whether the record passes the WHERE (a query without one passes everything) */
  matches(row: Row): boolean;
  /** the selected fields of the record (all of them for `*` or a bare filter) */
  project(row: Row): Record<string, unknown>;
}

export function compileQuery(q: Query): CompiledQuery {
  const test = q.where ? compile(q.where) : undefined;
  const select = q.select;
  return {
    matches: (row) => (test ? test(row) === true : true),
    project: (row) => {
      if (!select) return { ...row };
      const out: Record<string, unknown> = {};
      for (const f of select) out[f] = own(row, f);
      return out;
    },
  };
}
