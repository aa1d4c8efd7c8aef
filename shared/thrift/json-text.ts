/**
 * A strict JSON reader for Thrift JSON messages from clients. Unlike JSON.parse it keeps each
 * number's text (an i64 must not lose digits on the way to a double), keeps an object's members
 * as a list of [key, value] pairs (a `__proto__` key is only a string, never a property of
 * anything), bounds nesting, and reads one value at a time, so a message whose body is cut off
 * still has a readable header.
 */

export type JsonNode =
  | { readonly t: 'num'; readonly text: string }
  | { readonly t: 'str'; readonly value: string }
  | { readonly t: 'bool'; readonly value: boolean }
  | { readonly t: 'null' }
  | { readonly t: 'arr'; readonly items: readonly JsonNode[] }
  | { readonly t: 'obj'; readonly entries: readonly (readonly [string, JsonNode])[] };

export class JsonSyntaxError extends Error {
  constructor(message: string, at: number) {
    super(`${message} at character ${at}`);
    this.name = 'JsonSyntaxError';
  }
}

/** Nesting past the reader's bound: the caller answers it as the Thrift depth cap. */
export class JsonTooDeep extends Error {
  constructor() {
    super('JSON nested too deeply');
    this.name = 'JsonTooDeep';
  }
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES: ReadonlyMap<string, string> = new Map([
  ['"', '"'],
  ['\\', '\\'],
  ['/', '/'],
  ['b', '\b'],
  ['f', '\f'],
  ['n', '\n'],
  ['r', '\r'],
  ['t', '\t'],
]);

export class JsonReader {
  private pos = 0;

  constructor(
    private readonly text: string,
    /** arrays and objects open at once, at most */
    private readonly maxNesting: number,
  ) {}

  get position(): number {
    return this.pos;
  }

  /** Consumes `ch` (after white space) or throws. */
  expect(ch: string): void {
    this.skipSpace();
    if (this.text[this.pos] !== ch) throw this.unexpected(`expected '${ch}'`);
    this.pos++;
  }

  /** Whether the next character (after white space) is `ch`; consumes it if so. */
  take(ch: string): boolean {
    this.skipSpace();
    if (this.text[this.pos] !== ch) return false;
    this.pos++;
    return true;
  }

  /** Throws unless only white space is left. */
  end(): void {
    this.skipSpace();
    if (this.pos < this.text.length) throw this.unexpected('expected the end of the message');
  }

  /** One whole value; `nesting` counts the arrays and objects around it. */
  value(nesting = 0): JsonNode {
    this.skipSpace();
    const ch = this.text[this.pos];
    switch (ch) {
      case '{':
        return this.object(nesting + 1);
      case '[':
        return this.array(nesting + 1);
      case '"':
        return { t: 'str', value: this.string() };
      case 't':
        return this.word('true', { t: 'bool', value: true });
      case 'f':
        return this.word('false', { t: 'bool', value: false });
      case 'n':
        return this.word('null', { t: 'null' });
      default:
        return this.number();
    }
  }

  private skipSpace(): void {
    const s = this.text;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.pos++;
    }
  }

  private unexpected(what: string): JsonSyntaxError {
    if (this.pos >= this.text.length) return new JsonSyntaxError(`${what}, the message ends`, this.pos);
    return new JsonSyntaxError(`${what}, found ${JSON.stringify(this.text[this.pos])}`, this.pos);
  }

  private word(w: string, node: JsonNode): JsonNode {
    if (!this.text.startsWith(w, this.pos)) throw this.unexpected('expected a JSON value');
    this.pos += w.length;
    return node;
  }

  private number(): JsonNode {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (!m) throw this.unexpected('expected a JSON value');
    this.pos += m[0].length;
    return { t: 'num', text: m[0] };
  }

  private string(): string {
    const s = this.text;
    this.pos++; // the opening quote
    let out = '';
    for (;;) {
      let i = this.pos;
      while (i < s.length) {
        const c = s.charCodeAt(i);
        if (c === 0x22 || c === 0x5c) break;
        if (c < 0x20) {
          this.pos = i;
          throw this.unexpected('control character in a string');
        }
        i++;
      }
      out += s.slice(this.pos, i);
      this.pos = i;
      if (i >= s.length) throw this.unexpected('unterminated string');
      if (s.charCodeAt(i) === 0x22) {
        this.pos++;
        return out;
      }
      const e = s[i + 1];
      if (e === 'u') {
        const hex = s.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
          this.pos = i;
          throw this.unexpected('bad \\u escape');
        }
        out += String.fromCharCode(parseInt(hex, 16));
        this.pos = i + 6;
        continue;
      }
      const plain = e === undefined ? undefined : ESCAPES.get(e);
      if (plain === undefined) {
        this.pos = i;
        throw this.unexpected('bad escape');
      }
      out += plain;
      this.pos = i + 2;
    }
  }

  private array(nesting: number): JsonNode {
    if (nesting > this.maxNesting) throw new JsonTooDeep();
    this.pos++;
    const items: JsonNode[] = [];
    if (this.take(']')) return { t: 'arr', items };
    for (;;) {
      items.push(this.value(nesting));
      if (this.take(']')) return { t: 'arr', items };
      this.expect(',');
    }
  }

  private object(nesting: number): JsonNode {
    if (nesting > this.maxNesting) throw new JsonTooDeep();
    this.pos++;
    const entries: (readonly [string, JsonNode])[] = [];
    if (this.take('}')) return { t: 'obj', entries };
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"') throw this.unexpected('expected a member name');
      const key = this.string();
      this.expect(':');
      entries.push([key, this.value(nesting)]);
      if (this.take('}')) return { t: 'obj', entries };
      this.expect(',');
    }
  }
}
