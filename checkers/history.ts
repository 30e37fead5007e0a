/**
 * The history format of design.md ("history.jsonl"): one op per line. `type` is a verdict:
 * `ok` happened, `fail` definitely did not, `info` unknown. Every client op is an `invoke`
 * followed later by one completion of the same process and `f`.
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

/** Parse history.jsonl text into ops; blank lines are skipped, a torn last line (crashed run) is dropped. */
export function parseHistory(text: string): History {
  const ops: History = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    try {
      ops.push(JSON.parse(line) as Op);
    } catch (err) {
      if (i >= lines.length - 2) break; // torn tail of an interrupted run
      throw new Error(`history line ${i + 1} is not JSON: ${(err as Error).message}`);
    }
  }
  return ops;
}
