/** The filter language of the traffic tap and client channels (docs/query.md). */
export { QueryError } from './error';
export { parseQuery, MAX_DEPTH, MAX_PREDICATES } from './parse';
export type { Expr, FieldType, Literal, Query, Schema } from './parse';
export { compileQuery, likeToRegExp } from './evaluate';
export type { CompiledQuery, Row } from './evaluate';
export { MAX_QUERY_LENGTH } from './lexer';
