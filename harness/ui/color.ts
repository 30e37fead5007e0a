/**
 * The colour rules of every renderer (docs/live.md), as one pure function of the environment:
 * - `NO_COLOR` set to anything but the empty string: no colour, whatever else is set (no-color.org).
 * - else `FORCE_COLOR`: `0` or `false` none; `1`, `true` or empty basic 16 colours; `2` 256; `3` true colour.
 * - else colour only when the stream is a terminal (16 colours, or 256 when `TERM` says so).
 * Text is coloured with our own chalk instance at that level, so ink's and chalk's own detection (which
 * look at stdout, not at the stream we write to) never decide.
 */
import { Chalk } from 'chalk';
import type { ChalkInstance } from 'chalk';

export type ColorLevel = 0 | 1 | 2 | 3;

export function colorLevel(env: Readonly<Record<string, string | undefined>>, isTTY: boolean): ColorLevel {
  const no = env['NO_COLOR'];
  if (no !== undefined && no !== '') return 0;
  const force = env['FORCE_COLOR'];
  if (force !== undefined) {
    if (force === '0' || force === 'false') return 0;
    if (force === '2') return 2;
    if (force === '3') return 3;
    return 1;
  }
  if (!isTTY) return 0;
  return /256|truecolor|direct/.test(env['TERM'] ?? '') || env['COLORTERM'] !== undefined ? 2 : 1;
}

export function palette(level: ColorLevel): ChalkInstance {
  return new Chalk({ level });
}
