/**
 * What the tap knows of one call, the schema its queries are checked against, and how a query is
 * read for a tap. `args` (the decoded, redacted arguments) is there only when a query selects it
 * by name: decoding costs, so `*` leaves it out, and no WHERE may test it.
 */
import { compileQuery, parseQuery, QueryError, type CompiledQuery, type Schema } from '../query';
import { tokenize } from '../query/lexer';

/** One call as a tap sees it; absent fields (an anonymous call has no user) are left out. */
export interface CallRecord {
  /** when the call ended, ms since the epoch */
  time: number;
  /** the role of the instance that recorded it: `broker`, or the service's role (`sso`, …) */
  role: string;
  method: string;
  service: string;
  user?: string;
  username?: string;
  session?: string;
  /** the broker the call came through */
  broker?: string;
  /** the service instance that answered it */
  instance?: string;
  /** at a service: who called, a broker (a client's call) or another service (a nested call) */
  caller?: 'broker' | 'service';
  /** `ok` or the error code the caller got (docs/query.md; the broker's outcome catalog) */
  outcome: string;
  latency_ms: number;
  request_bytes: number;
  reply_bytes: number;
  trace_id?: string;
}

export const TAP_SOURCE = 'calls';

const FIELDS = {
  time: 'number',
  role: 'string',
  method: 'string',
  service: 'string',
  user: 'string',
  username: 'string',
  session: 'string',
  broker: 'string',
  instance: 'string',
  caller: 'string',
  outcome: 'string',
  latency_ms: 'number',
  request_bytes: 'number',
  reply_bytes: 'number',
  trace_id: 'string',
  // selectable only (checked below); its type here only lets the parser accept the name
  args: 'string',
} as const;

export const TAP_SCHEMA: Schema = { sources: [TAP_SOURCE], fields: FIELDS };

/** A tap's query, read: the filter, and whether it wants the arguments decoded. */
export interface TapQuery {
  text: string;
  compiled: CompiledQuery;
  /** the SELECT list, or undefined for every field but args */
  select: string[] | undefined;
  wantsArgs: boolean;
}

/** Parses a tap query; a QueryError names the character it is about. */
export function parseTapQuery(text: string): TapQuery {
  const q = parseQuery(text, TAP_SCHEMA);
  const tokens = tokenize(text);
  const whereAt = q.select ? tokens.findIndex((t) => t.kind === 'word' && t.text.toLowerCase() === 'where') : 0;
  if (whereAt >= 0) {
    const args = tokens.slice(whereAt).find((t) => t.kind === 'word' && t.text === 'args');
    if (args)
      throw new QueryError("'args' can be selected but not tested: filter on method, user, outcome, …", args.at);
  }
  return {
    text,
    compiled: compileQuery(q),
    select: q.select,
    wantsArgs: q.select?.includes('args') ?? false,
  };
}
