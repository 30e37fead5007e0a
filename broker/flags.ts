/**
 * Declarative command-line tables: one table per command, from which both the parser and `--help` are
 * generated, so the two cannot drift (a flag the parser takes is a row of the table, and every row is
 * printed by `helpText`).
 *
 * A row names the flag's value type with its allowed values or range and unit, its default, its help
 * text and whether it repeats. `parseCommandLine` turns argv into raw strings keyed by flag name, having
 * checked each value against its row; typed readers (`intOf`, `numberOf`, `choiceOf`, ...) convert a raw
 * value (from argv or from any other string source, such as a stored test.json) by the same row.
 *
 * Invariants:
 * - every user error is a `FlagError` whose message is one line naming the flag, what was given and what
 *   is allowed (an unknown flag names the nearest known one); nothing here throws anything else;
 * - a value token is whatever follows a flag that takes a value, even when it starts with `-`
 *   (`--time-limit -5` is a value out of range, not an unknown flag), unless it is itself a flag of the
 *   table (`--out --json` is a missing value);
 * - a flag that does not repeat may be given once; `--flag=value` and `--flag value` are the same.
 *
 * It lives under broker/ because the broker must stand alone (design.md "Folders": broker/ imports
 * nothing outside it) and its own entry point uses it; the harness imports it from here.
 */

export type FlagType =
  | { readonly type: 'boolean' }
  | { readonly type: 'int'; readonly min: number; readonly max: number; readonly unit?: string }
  | { readonly type: 'number'; readonly min: number; readonly max: number; readonly unit?: string }
  | { readonly type: 'choice'; readonly values: readonly string[] }
  /** a list of allowed values joined by any of `separators` (default `,`) */
  | { readonly type: 'list'; readonly values: readonly string[]; readonly separators?: string; readonly itemName?: string }
  /** free text; `check` returns why a value is refused (one line), or null */
  | { readonly type: 'string'; readonly check?: (value: string) => string | null; readonly allowed?: string };

export type FlagDefault = string | number | boolean | null;

export interface Flag {
  readonly kind: FlagType;
  /** the value's name in help, e.g. `S`, `N`, `FILE` (derived from the type when absent) */
  readonly metavar?: string;
  readonly help: string;
  /** the value used when the flag is absent; null: none (say what happens in `defaultText`) */
  readonly default?: FlagDefault;
  /** how help shows the default when it is not a literal value, e.g. `random` */
  readonly defaultText?: string;
  readonly repeatable?: boolean;
  readonly required?: boolean;
  /** a one-letter alias, e.g. `h` */
  readonly short?: string;
}

export interface Positional {
  readonly name: string;
  readonly help: string;
  readonly required: boolean;
  /** allowed values (a subcommand), or free text */
  readonly values?: readonly string[];
}

export interface CommandTable {
  /** as typed: `faultline run`, `faultline cluster` */
  readonly command: string;
  readonly summary: string;
  readonly positionals?: readonly Positional[];
  readonly flags: Readonly<Record<string, Flag>>;
  /** extra help paragraphs printed after the flags */
  readonly notes?: readonly string[];
}

export type RawValue = string | true | string[];
export type RawValues = Record<string, RawValue | undefined>;

export interface ParsedCommandLine {
  values: RawValues;
  positionals: string[];
  help: boolean;
}

/** A bad command line: a one-line message saying what was wrong and what is allowed. */
export class FlagError extends Error {
  readonly code = 'FAULTLINE_USAGE';
  constructor(message: string) {
    super(message.split('\n')[0]);
    this.name = 'FlagError';
  }
}

/** Edit distance (insert, delete, substitute), for suggesting the nearest flag or value. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The nearest candidate within a small distance (or one the input is a prefix of), else null. */
export function nearest(input: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = c.startsWith(input) && input.length >= 3 ? 1 : editDistance(input, c);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best !== null && bestD < input.length && bestD <= Math.max(1, Math.floor(input.length / 3)) ? best : null;
}

function fmtBound(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(6)));
}

function unitWords(unit: string | undefined): string {
  return unit === undefined ? '' : unit === 's' ? ' seconds' : ` ${unit}`;
}

/** What a flag accepts, as a phrase: `an integer from 1 to 9`, `one of 0, 1, all`. */
export function allowedText(kind: FlagType): string {
  switch (kind.type) {
    case 'boolean':
      return 'no value';
    case 'int':
      return `an integer${unitWords(kind.unit)} from ${fmtBound(kind.min)} to ${fmtBound(kind.max)}`;
    case 'number':
      return `a number${kind.unit === undefined ? '' : ' of' + unitWords(kind.unit)} from ${fmtBound(kind.min)} to ${fmtBound(kind.max)}`;
    case 'choice':
      return `one of ${kind.values.join(', ')}`;
    case 'list':
      return `${kind.separators === undefined || kind.separators === ',' ? 'a comma list' : `a list joined by ${kind.separators.split('').join(' or ')}`} of ${kind.itemName ?? 'values'}: ${kind.values.join(', ')}`;
    case 'string':
      return kind.allowed ?? 'a value';
  }
}

/** What a flag accepts, compactly, for help: `1..9`, `0.1..86400 s`, `, or + list: a, b`. */
function rangeText(kind: FlagType): string | null {
  switch (kind.type) {
    case 'int':
      return `${fmtBound(kind.min)}..${fmtBound(kind.max)}${kind.unit === undefined ? '' : ` ${kind.unit}`}`;
    case 'number':
      return `${fmtBound(kind.min)}..${fmtBound(kind.max)}${kind.unit === undefined ? '' : ` ${kind.unit}`}`;
    case 'choice':
      return `one of ${kind.values.join(', ')}`;
    case 'list':
      return `${kind.separators === undefined || kind.separators === ',' ? 'comma list' : `list joined by ${kind.separators.split('').join(' or ')}`} of ${kind.values.join(', ')}`;
    case 'string':
      return kind.allowed ?? null;
    case 'boolean':
      return null;
  }
}

function metavarOf(f: Flag): string {
  if (f.metavar !== undefined) return f.metavar;
  switch (f.kind.type) {
    case 'boolean':
      return '';
    case 'int':
      return 'N';
    case 'number':
      return f.kind.unit === 's' ? 'S' : 'X';
    case 'choice':
      return f.kind.values.length <= 5 ? f.kind.values.join('|') : 'NAME';
    case 'list':
      return 'LIST';
    case 'string':
      return 'VALUE';
  }
}

/** Why a raw value is refused for this flag (one line), or null when it is allowed. */
export function valueError(name: string, f: Flag, raw: string): string | null {
  const k = f.kind;
  const s = raw.trim();
  switch (k.type) {
    case 'boolean':
      return null;
    case 'int': {
      const n = Number(s);
      if (!/^[+-]?\d+$/.test(s) || n < k.min || n > k.max) return `--${name} must be ${allowedText(k)}; got '${raw}'`;
      return null;
    }
    case 'number': {
      const n = Number(s);
      if (s === '' || !Number.isFinite(n) || n < k.min || n > k.max) return `--${name} must be ${allowedText(k)}; got '${raw}'`;
      return null;
    }
    case 'choice': {
      if (k.values.includes(s)) return null;
      const near = nearest(s, k.values);
      return `--${name} '${raw}' is not allowed${near === null ? '' : `; did you mean ${near}?`}; allowed: ${k.values.join(', ')}`;
    }
    case 'list': {
      const items = splitList(s, k.separators ?? ',');
      if (items.length === 0) return `--${name} is empty; allowed: ${allowedText(k)}`;
      for (const item of items) {
        if (!k.values.includes(item)) {
          const near = nearest(item, k.values);
          return `--${name} '${item}' is not ${k.itemName === undefined ? 'allowed' : `a known ${k.itemName.replace(/s$/, '')}`}${near === null ? '' : `; did you mean ${near}?`}; allowed: ${k.values.join(', ')}`;
        }
      }
      return null;
    }
    case 'string': {
      if (s === '') return `--${name} needs ${allowedText(k)}; got an empty value`;
      const why = k.check?.(s) ?? null;
      return why === null ? null : `--${name} ${why.split('\n')[0]}`;
    }
  }
}

/** Items of a list value split on any separator character, trimmed, empties dropped. */
export function splitList(s: string, separators: string): string[] {
  const re = new RegExp(`[${separators.replace(/[\]\\^-]/g, '\\$&')}]`);
  return s.split(re).map((p) => p.trim()).filter((p) => p !== '');
}

function lookup(t: CommandTable, token: string): { name: string; flag: Flag } | null {
  if (token.startsWith('--')) {
    const name = token.slice(2);
    const flag = Object.hasOwn(t.flags, name) ? t.flags[name] : undefined;
    return flag === undefined ? null : { name, flag };
  }
  if (/^-[A-Za-z]$/.test(token)) {
    for (const [name, flag] of Object.entries(t.flags)) if (flag.short === token.slice(1)) return { name, flag };
  }
  return null;
}

function unknownFlag(t: CommandTable, token: string): FlagError {
  const names = Object.keys(t.flags).map((n) => `--${n}`);
  const near = nearest(token.replace(/=.*$/, ''), names);
  return new FlagError(`unknown flag ${token.replace(/=.*$/, '')}${near === null ? '' : `; did you mean ${near}?`} (${t.command} --help lists its flags)`);
}

/**
 * argv -> raw values by flag name, every value checked against its row, required flags and positionals
 * present. `--help`/`-h` anywhere (outside a flag's value) sets `help` and skips the checks for what is
 * missing, but a malformed flag before it is still reported.
 */
export function parseCommandLine(t: CommandTable, argv: readonly string[]): ParsedCommandLine {
  const values: RawValues = {};
  const positionals: string[] = [];
  let help = false;
  let onlyPositionals = false;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (onlyPositionals || !token.startsWith('-') || token === '-') {
      positionals.push(token);
      continue;
    }
    if (token === '--') {
      onlyPositionals = true;
      continue;
    }
    if (token === '--help' || token === '-h') {
      help = true;
      continue;
    }
    const eq = token.startsWith('--') ? token.indexOf('=') : -1;
    const flagToken = eq === -1 ? token : token.slice(0, eq);
    const hit = lookup(t, flagToken);
    if (hit === null) {
      if (/^-\d/.test(token)) throw new FlagError(`unexpected argument '${token}' (a value must follow its flag, e.g. --time-limit 5)`);
      throw unknownFlag(t, token);
    }
    const { name, flag } = hit;
    let raw: string | true;
    if (flag.kind.type === 'boolean') {
      if (eq !== -1) throw new FlagError(`--${name} takes no value; got '${token}'`);
      raw = true;
    } else if (eq !== -1) {
      raw = token.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined || next === '-h' || /^--[a-z]/.test(next)) {
        throw new FlagError(`--${name} needs a value: ${allowedText(flag.kind)}`);
      }
      raw = next;
      i++;
    }
    if (typeof raw === 'string') {
      const why = valueError(name, flag, raw);
      if (why !== null) throw new FlagError(why);
    }
    const prev = values[name];
    if (flag.repeatable === true) values[name] = [...(Array.isArray(prev) ? prev : []), String(raw)];
    else if (prev !== undefined) throw new FlagError(`--${name} is given twice; it takes one value (${allowedText(flag.kind)})`);
    else values[name] = raw;
  }
  if (help) return { values, positionals, help };
  const pos = t.positionals ?? [];
  for (let k = 0; k < Math.max(pos.length, positionals.length); k++) {
    const p = pos[k];
    const given = positionals[k];
    if (p === undefined) {
      throw new FlagError(`unexpected argument '${given ?? ''}'; ${pos.length === 0 ? `${t.command} takes flags only` : `${t.command} takes ${pos.map((x) => x.name).join(' ')}`} (${t.command} --help)`);
    }
    if (given === undefined) {
      if (p.required) throw new FlagError(`missing ${p.name}${p.values === undefined ? '' : `; allowed: ${p.values.join(', ')}`} (usage: ${usageLine(t)})`);
      continue;
    }
    if (p.values !== undefined && !p.values.includes(given)) {
      const near = nearest(given, p.values);
      throw new FlagError(`unknown ${p.name} '${given}'${near === null ? '' : `; did you mean ${near}?`}; allowed: ${p.values.join(', ')}`);
    }
  }
  for (const [name, flag] of Object.entries(t.flags)) {
    if (flag.required === true && values[name] === undefined) {
      const mv = metavarOf(flag);
      const allowed = allowedText(flag.kind);
      throw new FlagError(`--${name} ${mv} is required${allowed === mv || mv.includes('|') ? '' : `: ${allowed}`} (usage: ${usageLine(t)})`);
    }
  }
  return { values, positionals, help };
}

/** `faultline run [options]`, `faultline check RUN_DIR [options]`. */
export function usageLine(t: CommandTable): string {
  const pos = (t.positionals ?? []).map((p) => {
    const n = p.values !== undefined && p.values.length <= 6 ? p.values.join('|') : p.name;
    return p.required ? n : `[${n}]`;
  });
  const required = Object.entries(t.flags).filter(([, f]) => f.required === true).map(([n, f]) => `--${n} ${metavarOf(f)}`);
  return [t.command, ...required, ...pos, ...(Object.keys(t.flags).length > required.length ? ['[options]'] : [])].join(' ');
}

function defaultOf(f: Flag): string | null {
  if (f.defaultText !== undefined) return f.defaultText;
  if (f.default === undefined || f.default === null || f.default === false) return null;
  return String(f.default);
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') out.push(line);
  return out;
}

/** The help of one command, generated from its table: usage, positionals, every flag with its allowed values and default. */
export function helpText(t: CommandTable, widthCols = 100): string {
  const lines = [`usage: ${usageLine(t)}`, `  ${t.summary}`];
  const rows: Array<[string, string]> = [];
  for (const p of t.positionals ?? []) rows.push([p.name, `${p.help}${p.values === undefined ? '' : `; one of ${p.values.join(', ')}`}`]);
  for (const [name, f] of Object.entries(t.flags)) {
    const mv = metavarOf(f);
    const left = `${f.short === undefined ? '' : `-${f.short}, `}--${name}${mv === '' ? '' : ` ${mv}`}`;
    const range = f.kind.type === 'choice' && mv.includes('|') ? null : f.kind.type === 'string' && f.kind.allowed === mv ? null : rangeText(f.kind);
    const d = defaultOf(f);
    let text = range === null ? f.help : `${f.help}; ${range}`;
    if (f.required === true) text += ' (required)';
    else if (d !== null) text += ` (default ${d})`;
    if (f.repeatable === true) text += ' (repeatable)';
    rows.push([left, text]);
  }
  const leftCols = Math.min(30, Math.max(...rows.map(([l]) => l.length), 0) + 2);
  lines.push('');
  for (const [left, text] of rows) {
    const body = wrap(text, Math.max(40, widthCols - leftCols - 2));
    if (left.length + 2 > leftCols) {
      lines.push(`  ${left}`);
      for (const b of body) lines.push(`  ${''.padEnd(leftCols)}${b}`);
    } else {
      body.forEach((b, k) => lines.push(`  ${(k === 0 ? left : '').padEnd(leftCols)}${b}`));
    }
  }
  for (const n of t.notes ?? []) {
    lines.push('');
    for (const l of wrap(n, widthCols - 2)) lines.push(`  ${l}`);
  }
  return lines.join('\n');
}

// ---- typed readers: a raw value (from argv, or any string source) converted by its row ----

function rowOf(t: CommandTable, name: string): Flag {
  const f = Object.hasOwn(t.flags, name) ? t.flags[name] : undefined;
  if (f === undefined) throw new Error(`${t.command} has no flag --${name}`);
  return f;
}

function rawString(t: CommandTable, values: RawValues, name: string): string | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const s = Array.isArray(raw) ? raw[raw.length - 1]! : String(raw);
  const why = valueError(name, rowOf(t, name), s);
  if (why !== null) throw new FlagError(why);
  return s.trim();
}

function defaultValue<T>(t: CommandTable, name: string, override: T | undefined): T {
  if (override !== undefined) return override;
  const d = rowOf(t, name).default;
  if (d === undefined || d === null) throw new Error(`${t.command} --${name} has no default`);
  return d as T;
}

export function intOf(t: CommandTable, values: RawValues, name: string, def?: number): number {
  const s = rawString(t, values, name);
  return s === undefined ? defaultValue(t, name, def) : Number(s);
}

export function numberOf(t: CommandTable, values: RawValues, name: string, def?: number): number {
  const s = rawString(t, values, name);
  return s === undefined ? defaultValue(t, name, def) : Number(s);
}

/** Milliseconds in one second: the one factor between a seconds flag and the milliseconds inside. */
export const msPerS = 1000;

/**
 * A seconds flag (a `number` row with unit `s`) as whole milliseconds: the one place a user's seconds
 * become the milliseconds every option, function and field inside carries (style.md item 9). `defMs`
 * overrides the row's default (in ms, as the result). Rounded to the millisecond, so a value written
 * back as `ms / msPerS` (test.json, `--replay`) reads back to the same milliseconds.
 */
export function msOf(t: CommandTable, values: RawValues, name: string, defMs?: number): number {
  const f = rowOf(t, name);
  if (f.kind.type !== 'number' || f.kind.unit !== 's') throw new Error(`${t.command} --${name} is not a seconds flag`);
  const s = rawString(t, values, name);
  if (s === undefined && defMs !== undefined) return defMs;
  return Math.round((s === undefined ? defaultValue<number>(t, name, undefined) : Number(s)) * msPerS);
}

export function choiceOf<T extends string>(t: CommandTable, values: RawValues, name: string, def?: T): T {
  const s = rawString(t, values, name);
  return (s === undefined ? defaultValue(t, name, def) : s) as T;
}

/** A list flag's items (deduplicated, in order); the default is the row's default split the same way. */
export function listOf(t: CommandTable, values: RawValues, name: string): string[] {
  const f = rowOf(t, name);
  if (f.kind.type !== 'list') throw new Error(`--${name} is not a list flag`);
  const s = rawString(t, values, name) ?? String(defaultValue<string>(t, name, undefined));
  return [...new Set(splitList(s, f.kind.separators ?? ','))];
}

export function boolOf(values: RawValues, name: string): boolean {
  return values[name] === true || values[name] === 'true';
}

/** A string flag's value, or its default (null when the row has none). */
export function stringOf(t: CommandTable, values: RawValues, name: string): string | null {
  const s = rawString(t, values, name);
  if (s !== undefined) return s;
  const d = rowOf(t, name).default;
  return d === undefined || d === null ? null : String(d);
}

/** A repeatable flag's values, each checked by its row. */
export function stringsOf(t: CommandTable, values: RawValues, name: string): string[] {
  const raw = values[name];
  const items = raw === undefined ? [] : Array.isArray(raw) ? raw : [String(raw)];
  for (const s of items) {
    const why = valueError(name, rowOf(t, name), s);
    if (why !== null) throw new FlagError(why);
  }
  return items;
}
