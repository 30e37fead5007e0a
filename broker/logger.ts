/** A minimal leveled logger writing one line per event to stderr (the node's log file under the harness). */
import { realClock } from './runtime/real.ts';

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  child(prefix: string): Logger;
}

const order: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** `nowMs`: the clock the line's timestamp comes from (a simulated node's own). */
export function createLogger(prefix: string, level: Level = 'info', sink: (line: string) => void = (l) => process.stderr.write(l), nowMs: () => number = realClock.nowMs): Logger {
  const min = order[level];
  const at = (lv: Level) => (msg: string) => {
    if (order[lv] >= min) sink(`${new Date(nowMs()).toISOString()} ${lv.toUpperCase().padEnd(5)} [${prefix}] ${msg}\n`);
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (p) => createLogger(`${prefix} ${p}`, level, sink, nowMs),
  };
}
