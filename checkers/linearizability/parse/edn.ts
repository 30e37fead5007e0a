/**
 * A small EDN reader, enough for Jepsen and Knossos histories: nil, booleans, integers and floats,
 * strings (with escapes), characters, keywords, symbols, lists, vectors, maps, sets, `;` comments,
 * `#_` discards and tagged literals (`#inst "..."`, `#jepsen.history.Op{...}`: the tag is dropped
 * and the value kept). Commas are whitespace.
 *
 * Values: nil -> null; keywords -> `Keyword` (name without the colon); symbols -> `Sym`; lists,
 * vectors and sets -> arrays; maps -> `EdnMap` (plain object keyed by the key's printed name:
 * a keyword key `:process` becomes `process`). Errors carry the line number of the bad input.
 */

export class Keyword {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  toString(): string {
    return `:${this.name}`;
  }
}

export class Sym {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  toString(): string {
    return this.name;
  }
}

export type EdnValue = null | boolean | number | string | Keyword | Sym | EdnValue[] | EdnMap;
export interface EdnMap {
  [key: string]: EdnValue;
}

export class EdnError extends Error {
  readonly code = 'FAULTLINE_EDN';
  constructor(message: string) {
    super(message);
    this.name = 'EdnError';
  }
}

const delimiters = new Set(['(', ')', '[', ']', '{', '}', '"', ';']);

function isSpace(c: string): boolean {
  return c === ' ' || c === ',' || c === '\n' || c === '\t' || c === '\r' || c === '\f';
}

export function mapKey(v: EdnValue): string {
  if (v instanceof Keyword) return v.name;
  if (v === null) return 'nil';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Read every top-level form of `text`. */
export function readAll(text: string): EdnValue[] {
  const r = new Reader(text);
  const out: EdnValue[] = [];
  for (;;) {
    r.skip();
    if (r.pos >= text.length) return out;
    out.push(r.read());
  }
}

class Reader {
  readonly text: string;
  pos = 0;
  constructor(text: string) {
    this.text = text;
  }

  fail(message: string): never {
    let line = 1;
    for (let i = 0; i < this.pos && i < this.text.length; i++) if (this.text.charCodeAt(i) === 10) line++;
    throw new EdnError(`EDN line ${line}: ${message}`);
  }

  skip(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t[this.pos]!;
      if (isSpace(c)) this.pos++;
      else if (c === ';') {
        while (this.pos < t.length && t[this.pos] !== '\n') this.pos++;
      } else if (c === '#' && t[this.pos + 1] === '_') {
        this.pos += 2;
        this.read();
      } else return;
    }
  }

  readSeq(close: string): EdnValue[] {
    const items: EdnValue[] = [];
    for (;;) {
      this.skip();
      if (this.pos >= this.text.length) this.fail(`unterminated collection, expected '${close}'`);
      if (this.text[this.pos] === close) {
        this.pos++;
        return items;
      }
      items.push(this.read());
    }
  }

  read(): EdnValue {
    this.skip();
    const t = this.text;
    if (this.pos >= t.length) this.fail('unexpected end of input');
    const c = t[this.pos]!;
    switch (c) {
      case '(':
        this.pos++;
        return this.readSeq(')');
      case '[':
        this.pos++;
        return this.readSeq(']');
      case '{': {
        this.pos++;
        const items = this.readSeq('}');
        if (items.length % 2 !== 0) this.fail('map with an odd number of forms');
        const m: EdnMap = {};
        for (let i = 0; i < items.length; i += 2) m[mapKey(items[i]!)] = items[i + 1]!;
        return m;
      }
      case '"':
        return this.readString();
      case '#': {
        const n = t[this.pos + 1];
        if (n === '{') {
          this.pos += 2;
          return this.readSeq('}');
        }
        this.pos++;
        this.readToken(); // tag
        return this.read();
      }
      case '\\': {
        this.pos++;
        const tok = this.readToken();
        const named: Record<string, string> = { newline: '\n', space: ' ', tab: '\t', return: '\r' };
        return named[tok] ?? tok;
      }
      case ')':
      case ']':
      case '}':
        this.fail(`unexpected '${c}'`);
    }
    const tok = this.readToken();
    if (tok === '') this.fail(`unexpected '${c}'`);
    if (tok.startsWith(':')) return new Keyword(tok.slice(1));
    if (tok === 'nil') return null;
    if (tok === 'true') return true;
    if (tok === 'false') return false;
    if (/^[+-]?\d/.test(tok)) {
      const num = Number(tok.replace(/[NM]$/, ''));
      if (Number.isNaN(num)) this.fail(`bad number '${tok}'`);
      return num;
    }
    return new Sym(tok);
  }

  readToken(): string {
    const t = this.text;
    const start = this.pos;
    while (this.pos < t.length && !isSpace(t[this.pos]!) && !delimiters.has(t[this.pos]!)) this.pos++;
    return t.slice(start, this.pos);
  }

  readString(): string {
    const t = this.text;
    this.pos++;
    let out = '';
    for (;;) {
      if (this.pos >= t.length) this.fail('unterminated string');
      const c = t[this.pos++]!;
      if (c === '"') return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = t[this.pos++];
      if (e === 'n') out += '\n';
      else if (e === 't') out += '\t';
      else if (e === 'r') out += '\r';
      else if (e === 'u') {
        out += String.fromCharCode(parseInt(t.slice(this.pos, this.pos + 4), 16));
        this.pos += 4;
      } else if (e === undefined) this.fail('unterminated string');
      else out += e;
    }
  }
}
