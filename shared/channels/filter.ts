/**
 * A channel filter: the query language of docs/query.md read against free-form messages (no
 * schema, so only the syntax is checked). '' and a bare `WHERE`-less condition are both filters;
 * `SELECT … FROM` is refused, since a channel delivers whole messages.
 */
import { compileQuery, parseQuery, QueryError, type CompiledQuery } from '../query';

/** The compiled filter, or a QueryError naming the position of what is wrong. */
export function compileChannelFilter(filter: string): CompiledQuery {
  const q = parseQuery(filter, {});
  if (q.select !== undefined || q.from !== undefined)
    throw new QueryError('a channel filter is a condition (WHERE …), not a SELECT', 0);
  return compileQuery(q);
}
