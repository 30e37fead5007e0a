/**
 * Jepsen/Knossos history EDN: op maps `{:process P, :type :invoke|:ok|:fail|:info, :f :F, :value V}`,
 * one per line or inside a top-level vector or list (several forms are concatenated). Other keys
 * (`:key`, `:time`, `:index`) are kept in `fields`. Ops whose process is not an integer (`:nemesis`)
 * are dropped. Time is the op's position in the history.
 */
import { Keyword, Sym, readAll, type EdnMap, type EdnValue } from './edn.ts';
import type { Event, EventType } from './ops.ts';

const types = new Set(['invoke', 'ok', 'fail', 'info']);

function isMap(v: EdnValue): v is EdnMap {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Keyword) && !(v instanceof Sym);
}

function name(v: EdnValue | undefined): string | undefined {
  if (v instanceof Keyword) return v.name;
  if (typeof v === 'string') return v;
  if (v instanceof Sym) return v.name;
  return undefined;
}

export function parseEdnHistory(text: string): Event[] {
  const forms = readAll(text);
  const maps: EdnValue[] = [];
  for (const f of forms) {
    if (Array.isArray(f)) maps.push(...f);
    else maps.push(f);
  }
  const events: Event[] = [];
  for (const m of maps) {
    if (!isMap(m)) throw new Error(`EDN history: expected op maps, got ${JSON.stringify(m)}`);
    const process = m['process'];
    if (typeof process !== 'number' || !Number.isInteger(process)) continue;
    const type = name(m['type']);
    const f = name(m['f']);
    if (type === undefined || !types.has(type)) throw new Error(`EDN history: op ${events.length} has no :type invoke|ok|fail|info`);
    if (f === undefined) throw new Error(`EDN history: op ${events.length} has no :f`);
    const { process: _p, type: _t, f: _f, value, ...fields } = m;
    events.push({ process, type: type as EventType, f, value: value ?? null, fields, time: events.length });
  }
  return events;
}
