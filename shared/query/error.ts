/** A query that cannot be read or does not fit its schema, with the offset it is about. */
export class QueryError extends Error {
  /** 0-based offset in the query text */
  readonly position: number;

  constructor(reason: string, position: number) {
    super(`${reason} (at character ${position + 1})`);
    this.name = 'QueryError';
    this.position = position;
  }

  /** The query with a caret under the offending character, for a person at a terminal. */
  pointAt(query: string): string {
    return `${query}\n${' '.repeat(Math.min(this.position, query.length))}^ ${this.message}`;
  }
}
