/**
 * Jepsen log lines, as `jepsen.util` prints ops: `INFO  jepsen.util - <process> :<type> :<f> <value>`
 * (tab- or space-separated; the value is EDN: `nil`, `4`, `[3 0]`, `:timed-out`). Lines that are not
 * client op lines (other loggers, nemesis ops) are skipped. Time is the line's position.
 */
import { readAll } from './edn.ts';
import type { Event, EventType } from './ops.ts';

const lineRe = /^\S+\s+jepsen\.util\s+-\s+(\d+)\s+:(invoke|ok|fail|info)\s+:(\S+)\s*(.*)$/;

export function parseJepsenLog(text: string): Event[] {
  const events: Event[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = lineRe.exec(lines[i]!.trimEnd());
    if (!m) continue;
    const valueText = m[4]!.trim();
    const forms = valueText === '' ? [] : readAll(valueText);
    events.push({
      process: Number(m[1]),
      type: m[2] as EventType,
      f: m[3]!,
      value: forms.length === 0 ? null : forms[0]!,
      fields: {},
      time: i,
    });
  }
  return events;
}


