/**
 * Plain timestamped lines, for a stream that is no terminal (CI, pipes) or a run with `--json`
 * (docs/live.md). One line per event worth a line:
 *   `HH:MM:SS.mmm <the run's own log line>`
 *   `HH:MM:SS.mmm fault start <fault>: <op> ...` and `fault end <fault>: <op>` (every fault, start and end)
 *   `HH:MM:SS.mmm progress <elapsed>[, <left> left]: <counts>` every `progressEveryMs` while a run is on
 *   `HH:MM:SS.mmm cell i/n <label>: <verdict>` when a campaign's or hunt's cell is done
 * Colour only at `level` > 0 (see color.ts); at 0 the lines hold no escape code at all.
 */
import type { RunEvent } from '../run/events.ts';
import type { ColorLevel } from './color.ts';
import { palette } from './color.ts';
import { countsText, opText, seconds } from './format.ts';

export interface PlainOptions {
  write(line: string): void;
  level: ColorLevel;
  /** wall clock for the timestamps */
  now?: () => Date;
  progressEveryMs?: number;
}

export const defaultProgressEveryMs = 10_000;

/** A listener for the event stream that writes plain lines. */
export function plainRenderer(o: PlainOptions): (e: RunEvent) => void {
  const c = palette(o.level);
  const now = o.now ?? (() => new Date());
  const every = o.progressEveryMs ?? defaultProgressEveryMs;
  let lastProgressMs = -Infinity;
  let cells: string[] = [];
  const line = (msg: string): void => o.write(`${c.dim(now().toISOString().slice(11, 23))} ${msg}\n`);
  return (e) => {
    switch (e.type) {
      case 'log':
        line(e.msg);
        return;
      case 'run-start':
        lastProgressMs = -Infinity;
        return;
      case 'fault-start':
        line(`${c.red('fault start')} ${e.fault ?? e.lane ?? ''}: ${opText(e.op)}${e.error === undefined ? '' : c.yellow(` failed: ${e.error}`)}`);
        return;
      case 'fault-end':
        line(`${c.green('fault end')} ${e.fault ?? 'final'}: ${opText(e.op)}${e.error === undefined ? '' : c.yellow(` failed: ${e.error}`)}`);
        return;
      case 'progress':
        if (e.elapsedMs - lastProgressMs < every) return;
        lastProgressMs = e.elapsedMs;
        line(`${c.cyan('progress')} ${seconds(e.elapsedMs)}${e.remainingMs === null ? '' : `, ${seconds(e.remainingMs)} left`}: ${countsText(e)}`);
        return;
      case 'plan':
        cells = e.cells;
        return;
      case 'cell-done': {
        const paint = e.ok === true ? c.green : e.ok === false ? c.red : c.yellow;
        line(`cell ${e.cell + 1}/${cells.length} ${cells[e.cell] ?? ''}: ${paint(e.verdict)}`);
        return;
      }
      default:
        return;
    }
  };
}
