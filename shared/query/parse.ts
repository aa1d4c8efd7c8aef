/**
 * The filter language shared by the traffic tap and client channels (docs/query.md): a small
 * SQL-like subset, `SELECT a, b FROM calls WHERE method LIKE 'Player:%' AND latency_ms > 50`, or
 * a bare filter (`WHERE …` or just the condition). Parsing checks every field against the schema
 * of what is filtered, so a typo or a string compared with a number fails here, at the position
 * it was written, not silently at every message.
 */
import { QueryError } from './error';
import { tokenize, type Token } from './lexer';

export type FieldType = 'string' | 'number' | 'boolean';
export type Literal = string | number | boolean;
export type Comparison = '=' | '!=' | '<' | '<=' | '>' | '>=';

export type Expr =
  | { kind: 'and' | 'or'; left: Expr; right: Expr }
  | { kind: 'not'; arg: Expr }
  | { kind: 'compare'; field: string; op: Comparison; value: Literal }
  | { kind: 'like'; field: string; pattern: string; negated: boolean }
  | { kind: 'in'; field: string; values: Literal[]; negated: boolean }
  | { kind: 'null'; field: string; negated: boolean };

export interface Query {
  /** the fields to keep, or undefined for `*` / a bare filter (everything) */
  select: string[] | undefined;
  /** what the query reads (`calls`), or undefined for a bare filter */
  from: string | undefined;
  where: Expr | undefined;
}

export interface Schema {
  /** the sources a SELECT may read; a FROM naming another is refused */
  sources?: readonly string[];
  /** the fields and their types; undefined means any field, of any type (a channel's free-form messages) */
  fields?: Readonly<Record<string, FieldType>>;
}

/** Conditions nest at most this deep and hold at most this many tests: a filter runs per message. */
export const MAX_DEPTH = 16;
export const MAX_PREDICATES = 64;

const KEYWORDS = new Set(['select', 'from', 'where', 'and', 'or', 'not', 'like', 'in', 'is', 'null', 'true', 'false']);

class Parser {
  private i = 0;
  private predicates = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly schema: Schema,
  ) {}

  private get peek(): Token {
    return this.tokens[this.i] as Token;
  }

  private next(): Token {
    const t = this.peek;
    if (t.kind !== 'end') this.i++;
    return t;
  }

  private isWord(word: string, t: Token = this.peek): boolean {
    return t.kind === 'word' && t.text.toLowerCase() === word;
  }

  private acceptWord(word: string): boolean {
    if (!this.isWord(word)) return false;
    this.i++;
    return true;
  }

  private expectWord(word: string, context: string): void {
    if (!this.acceptWord(word)) throw this.unexpected(`${word.toUpperCase()} ${context}`);
  }

  private expectPunct(p: string, context: string): void {
    if (this.peek.kind === 'punct' && this.peek.text === p) this.i++;
    else throw this.unexpected(`'${p}' ${context}`);
  }

  private unexpected(wanted: string, t: Token = this.peek): QueryError {
    const found = t.kind === 'end' ? 'the end of the query' : `'${t.text}'`;
    return new QueryError(`expected ${wanted}, found ${found}`, t.at);
  }

  query(): Query {
    let q: Query;
    if (this.acceptWord('select')) {
      const select = this.selectList();
      this.expectWord('from', 'after the selected fields');
      const source = this.next();
      if (source.kind !== 'word' || KEYWORDS.has(source.text.toLowerCase()))
        throw this.unexpected('what to read from (e.g. FROM calls)', source);
      const sources = this.schema.sources;
      if (sources && !sources.includes(source.text))
        throw new QueryError(`unknown source '${source.text}'; this query can read ${sources.join(', ')}`, source.at);
      const where = this.acceptWord('where') ? this.expression(0) : undefined;
      q = { select, from: source.text, where };
    } else {
      this.acceptWord('where');
      q = { select: undefined, from: undefined, where: this.peek.kind === 'end' ? undefined : this.expression(0) };
    }
    if (this.peek.kind !== 'end') throw this.unexpected('AND, OR or the end of the query');
    return q;
  }

  private selectList(): string[] | undefined {
    if (this.peek.kind === 'punct' && this.peek.text === '*') {
      this.i++;
      return undefined;
    }
    const fields = [this.field()];
    while (this.peek.kind === 'punct' && this.peek.text === ',') {
      this.i++;
      fields.push(this.field());
    }
    return fields;
  }

  private field(): string {
    const t = this.next();
    if (t.kind !== 'word' || KEYWORDS.has(t.text.toLowerCase())) throw this.unexpected('a field name', t);
    const fields = this.schema.fields;
    if (fields && !Object.hasOwn(fields, t.text))
      throw new QueryError(`unknown field '${t.text}'; the fields are ${Object.keys(fields).join(', ')}`, t.at);
    return t.text;
  }

  private expression(depth: number): Expr {
    if (depth > MAX_DEPTH) throw new QueryError(`the condition nests deeper than ${MAX_DEPTH} levels`, this.peek.at);
    let left = this.conjunction(depth);
    while (this.acceptWord('or')) left = { kind: 'or', left, right: this.conjunction(depth) };
    return left;
  }

  private conjunction(depth: number): Expr {
    let left = this.negation(depth);
    while (this.acceptWord('and')) left = { kind: 'and', left, right: this.negation(depth) };
    return left;
  }

  private negation(depth: number): Expr {
    if (depth > MAX_DEPTH) throw new QueryError(`the condition nests deeper than ${MAX_DEPTH} levels`, this.peek.at);
    if (this.acceptWord('not')) return { kind: 'not', arg: this.negation(depth + 1) };
    if (this.peek.kind === 'punct' && this.peek.text === '(') {
      this.i++;
      const inner = this.expression(depth + 1);
      this.expectPunct(')', 'to close the parenthesis');
      return inner;
    }
    return this.predicate();
  }

  private predicate(): Expr {
    const at = this.peek.at;
    if (++this.predicates > MAX_PREDICATES)
      throw new QueryError(`the condition holds more than ${MAX_PREDICATES} tests`, at);
    const field = this.field();
    if (this.acceptWord('is')) {
      const negated = this.acceptWord('not');
      this.expectWord('null', 'after IS');
      return { kind: 'null', field, negated };
    }
    const negated = this.acceptWord('not');
    if (this.acceptWord('like')) {
      this.checkType(field, 'string', at, 'LIKE');
      const t = this.next();
      if (t.kind !== 'string') throw this.unexpected("a quoted pattern after LIKE (e.g. 'Player:%')", t);
      return { kind: 'like', field, pattern: t.text, negated };
    }
    if (this.acceptWord('in')) {
      this.expectPunct('(', 'after IN');
      const values = [this.literalFor(field)];
      while (this.peek.kind === 'punct' && this.peek.text === ',') {
        this.i++;
        values.push(this.literalFor(field));
      }
      this.expectPunct(')', 'to close the IN list');
      return { kind: 'in', field, values, negated };
    }
    if (negated) throw this.unexpected('LIKE or IN after NOT');
    const op = this.next();
    if (op.kind !== 'op') throw this.unexpected('a comparison (=, !=, <, <=, >, >=), LIKE, IN or IS', op);
    const comparison = op.text as Comparison;
    const value = this.literalFor(field);
    if (comparison !== '=' && comparison !== '!=' && typeof value === 'boolean')
      throw new QueryError(`'${comparison}' does not order true and false; use = or !=`, op.at);
    return { kind: 'compare', field, op: comparison, value };
  }

  private literalFor(field: string): Literal {
    const t = this.next();
    let value: Literal;
    if (t.kind === 'string') value = t.text;
    else if (t.kind === 'number') {
      value = Number(t.text);
      if (!Number.isFinite(value)) throw new QueryError(`'${t.text}' is not a number`, t.at);
    } else if (this.isWord('true', t) || this.isWord('false', t)) value = t.text.toLowerCase() === 'true';
    else throw this.unexpected('a value (a number, a quoted string, TRUE or FALSE)', t);
    this.checkType(field, typeof value as FieldType, t.at, 'this value');
    return value;
  }

  private checkType(field: string, type: FieldType, at: number, what: string): void {
    const declared = this.schema.fields?.[field];
    if (declared && declared !== type)
      throw new QueryError(`'${field}' is a ${declared}, so ${what} (a ${type}) cannot match it`, at);
  }
}

/** Parses a SELECT or a bare filter; throws QueryError naming the position of what is wrong. */
export function parseQuery(text: string, schema: Schema = {}): Query {
  return new Parser(tokenize(text), schema).query();
}
