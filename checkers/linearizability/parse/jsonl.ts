/**
 * Our own history.jsonl (design.md): one JSON op per line with `process`, `type`, `f`, `value`,
 * `timeNs`. Nemesis lines (non-integer process) are dropped; blank lines skipped; a torn last line
 * (interrupted run) is dropped. Time is `timeNs` when every op has it, else the line position.
 */
import type { Event, EventType } from './ops.ts';

const types = new Set(['invoke', 'ok', 'fail', 'info']);

export function parseJsonlHistory(text: string): Event[] {
  const events: Event[] = [];
  const lines = text.split('\n');
  let allTimed = true;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (err) {
      if (lines.slice(i + 1).every((l) => l.trim() === '')) break;
      throw new Error(`history line ${i + 1} is not JSON: ${(err as Error).message}`);
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`history line ${i + 1} is not an op object`);
    const { process, type, f, value, timeNs, ...fields } = raw as Record<string, unknown>;
    if (typeof process !== 'number' || !Number.isInteger(process)) continue;
    if (typeof type !== 'string' || !types.has(type)) throw new Error(`history line ${i + 1}: type must be invoke|ok|fail|info`);
    if (typeof f !== 'string') throw new Error(`history line ${i + 1}: f must be a string`);
    if (typeof timeNs !== 'number') allTimed = false;
    events.push({ process, type: type as EventType, f, value: value ?? null, fields, time: typeof timeNs === 'number' ? timeNs : i });
  }
  if (!allTimed) events.forEach((e, i) => (e.time = i));
  return events;
}
