/**
 * The history format of design.md ("history.jsonl"): one op per line. `type` is a verdict:
 * `ok` happened, `fail` definitely did not, `info` unknown. Every client op is an `invoke`
 * followed later by one completion of the same process and `f`. `index` counts lines from 0, so an
 * op's line number in history.jsonl (1-based, as editors and `sed -n Np` count) is `index + 1`.
 *
 * Reading a file (`readHistory`): each line is one JSON op. A line that is not JSON, or JSON that is
 * not an op (`isOp`), is malformed: it is reported with its line number and left out, and a checker
 * that is told about it must not reach `false` on the strength of what it lost. Only an unterminated
 * last line (no newline after it: the torn tail of a crashed or interrupted run) that does not parse
 * is dropped as torn without counting as malformed. Blank lines are skipped (and counted as lines).
 */
export type OpType = 'invoke' | 'ok' | 'fail' | 'info';
export type Process = number | 'nemesis' | 'harness';

/** Offsets and values as read by one poll: key -> [[offset, value], ...] in the order returned. */
export type PollValue = Record<string, Array<[number, number]>>;

export type SendValue = { key: string; value: number; offset?: number; error?: string };

export interface Op {
  index: number;
  timeNs: number;
  process: Process;
  type: OpType;
  f: string;
  value: unknown;
}

export interface SendOp extends Op { f: 'send'; value: SendValue }
export interface PollOp extends Op { f: 'poll'; value: PollValue | null | { error?: string } }
export interface AssignOp extends Op { f: 'assign'; value: { keys: string[] } }

export type History = Op[];

/** A line of history.jsonl that was left out, with why (line numbers are 1-based). */
export interface MalformedLine {
  line: number;
  why: string;
}

export interface ParsedHistory {
  ops: History;
  malformed: MalformedLine[];
  /** an unterminated last line that did not parse was dropped */
  tornLastLine: boolean;
  /** lines in the file, blank ones included */
  lines: number;
}

const OP_TYPES: ReadonlySet<unknown> = new Set(['invoke', 'ok', 'fail', 'info']);

/** Why `x` is not an op of the history format, or null when it is one. */
export function notAnOp(x: unknown): string | null {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return 'not a JSON object';
  const o = x as Record<string, unknown>;
  if (typeof o['index'] !== 'number' || !Number.isSafeInteger(o['index']) || o['index'] < 0) return 'index is not a non-negative integer';
  if (typeof o['timeNs'] !== 'number' || !Number.isFinite(o['timeNs'])) return 'timeNs is not a number';
  const p = o['process'];
  if (!(typeof p === 'string' || (typeof p === 'number' && Number.isSafeInteger(p)))) return 'process is neither an integer nor a name';
  if (!OP_TYPES.has(o['type'])) return `type ${JSON.stringify(o['type'])} is not invoke, ok, fail or info`;
  if (typeof o['f'] !== 'string' || o['f'] === '') return 'f is not a string';
  return null;
}

export function isOp(x: unknown): x is Op {
  return notAnOp(x) === null;
}

/** Read history.jsonl text: the ops, the malformed lines left out, and whether a torn tail was dropped. */
export function readHistory(text: string): ParsedHistory {
  const ops: History = [];
  const malformed: MalformedLine[] = [];
  let tornLastLine = false;
  const lines = text.split('\n');
  // A final newline leaves an empty last element that is not a line.
  const n = lines.length > 0 && lines[lines.length - 1] === '' ? lines.length - 1 : lines.length;
  for (let i = 0; i < n; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (err) {
      if (i === lines.length - 1) {
        tornLastLine = true; // unterminated last line: the torn tail of an interrupted run
        break;
      }
      malformed.push({ line: i + 1, why: `not JSON: ${(err as Error).message}` });
      continue;
    }
    const why = notAnOp(parsed);
    if (why !== null) malformed.push({ line: i + 1, why: `not an op: ${why}` });
    else ops.push(parsed as Op);
  }
  return { ops, malformed, tornLastLine, lines: n };
}

/**
 * Parse history.jsonl text into ops, strictly: a torn last line is dropped, any other line that is not
 * an op is an error naming it. For data known to be well formed (golden files, a run's own history).
 */
export function parseHistory(text: string): History {
  const r = readHistory(text);
  const first = r.malformed[0];
  if (first !== undefined) throw new Error(`history line ${first.line} is ${first.why}`);
  return r.ops;
}
