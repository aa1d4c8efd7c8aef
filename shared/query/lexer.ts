/**
 * Tokens of the filter language (docs/query.md): words, numbers, quoted strings and operators,
 * each with the position it starts at, so every error can point at the character it is about.
 */
import { QueryError } from './error';

export type TokenKind = 'word' | 'number' | 'string' | 'op' | 'punct' | 'end';

export interface Token {
  kind: TokenKind;
  /** the text as written (for a string: its value, quotes removed and '' unescaped) */
  text: string;
  /** 0-based offset of the token's first character in the query */
  at: number;
}

/** A query longer than this is refused before it is read: a filter is a line, not a program. */
export const MAX_QUERY_LENGTH = 2_000;

const OPERATORS = ['<=', '>=', '!=', '<>', '=', '<', '>'] as const;
const PUNCTUATION = new Set(['(', ')', ',', '*']);

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';
const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isWordStart = (c: string): boolean => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
const isWordPart = (c: string): boolean => isWordStart(c) || isDigit(c) || c === '.';

export function tokenize(query: string): Token[] {
  if (query.length > MAX_QUERY_LENGTH)
    throw new QueryError(`the query is ${query.length} characters long; at most ${MAX_QUERY_LENGTH} are allowed`, 0);
  const tokens: Token[] = [];
  let i = 0;
  while (i < query.length) {
    const c = query[i] as string;
    if (isSpace(c)) {
      i++;
      continue;
    }
    const at = i;
    if (c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= query.length) throw new QueryError('this string is not closed (a closing quote is missing)', at);
        const d = query[i] as string;
        if (d === "'" && query[i + 1] === "'") {
          value += "'";
          i += 2;
        } else if (d === "'") {
          i++;
          break;
        } else {
          value += d;
          i++;
        }
      }
      tokens.push({ kind: 'string', text: value, at });
      continue;
    }
    if (isDigit(c) || (c === '-' && isDigit(query[i + 1] ?? ''))) {
      i++;
      while (i < query.length && (isDigit(query[i] as string) || query[i] === '.')) i++;
      tokens.push({ kind: 'number', text: query.slice(at, i), at });
      continue;
    }
    if (isWordStart(c)) {
      while (i < query.length && isWordPart(query[i] as string)) i++;
      tokens.push({ kind: 'word', text: query.slice(at, i), at });
      continue;
    }
    const op = OPERATORS.find((o) => query.startsWith(o, i));
    if (op) {
      tokens.push({ kind: 'op', text: op === '<>' ? '!=' : op, at });
      i += op.length;
      continue;
    }
    if (PUNCTUATION.has(c)) {
      tokens.push({ kind: 'punct', text: c, at });
      i++;
      continue;
    }
    throw new QueryError(`unexpected character ${JSON.stringify(c)}`, at);
  }
  tokens.push({ kind: 'end', text: '', at: query.length });
  return tokens;
}
