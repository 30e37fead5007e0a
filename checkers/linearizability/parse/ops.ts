/**
 * Format-neutral client events and their pairing into completed ops.
 *
 * An `Event` is one line of a history: an invoke or a completion (`ok`, `fail`, `info`) of one
 * process. Pairing rule (Jepsen's): an invoke is completed by the next completion of the same
 * process. An invoke still open at the end of the history, or followed by another invoke of the
 * same process, is `info` (indeterminate). Completions with no open invoke are ignored.
 * Non-integer processes (`:nemesis`) are not client ops and are dropped by the format readers.
 * `info` ops get `ret = +Infinity`: they may take effect any time after their call, or never.
 */

export type EventType = 'invoke' | 'ok' | 'fail' | 'info';

export interface Event {
  process: number;
  type: EventType;
  f: string;
  value: unknown;
  /** Extra fields of the event (e.g. `key` in Porcupine's kv histories). */
  fields: Record<string, unknown>;
  time: number;
}

export interface CompletedOp {
  /** Index of the invoke in the history's client events. */
  index: number;
  process: number;
  f: string;
  type: 'ok' | 'fail' | 'info';
  invoke: Event;
  /** The completion event; absent when the op never completed. */
  completion: Event | undefined;
  call: number;
  ret: number;
}

export function pairEvents(events: readonly Event[]): CompletedOp[] {
  const open = new Map<number, { index: number; ev: Event }>();
  const done: Array<CompletedOp | undefined> = [];
  const close = (slot: { index: number; ev: Event }, type: CompletedOp['type'], completion: Event | undefined): void => {
    done[slot.index] = {
      index: slot.index,
      process: slot.ev.process,
      f: slot.ev.f,
      type,
      invoke: slot.ev,
      completion,
      call: slot.ev.time,
      ret: type === 'info' ? Infinity : (completion?.time ?? Infinity),
    };
  };
  let invokes = 0;
  for (const ev of events) {
    const pending = open.get(ev.process);
    if (ev.type === 'invoke') {
      if (pending) close(pending, 'info', undefined);
      open.set(ev.process, { index: invokes++, ev });
      done.push(undefined);
      continue;
    }
    if (!pending || pending.ev.f !== ev.f) continue; // e.g. a queue history's invoke-less `assign` lines
    open.delete(ev.process);
    close(pending, ev.type, ev);
  }
  for (const pending of open.values()) close(pending, 'info', undefined);
  return done.filter((o): o is CompletedOp => o !== undefined);
}
