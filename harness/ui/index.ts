/**
 * How a command shows what it is doing (docs/live.md): `startOutput` picks the renderer once, from the
 * stream and the environment, and returns the event stream to hand to the run, the log function for
 * its lines, and `close()`.
 *
 * - live (ink) when the stream is a terminal, there is no `--json`, and neither `CI` is set nor
 *   `FAULTLINE_UI=plain`;
 * - plain timestamped lines otherwise (colour by color.ts).
 *
 * Invariants: `close()` unmounts the ink app and removes every listener and timer it added, on every
 * path (the commands call it in `finally`), so the view never keeps the process alive; it is
 * idempotent. Nothing here reads stdin or handles signals (harness/run/signals.ts does).
 */
import { render } from 'ink';
import { createElement as h } from 'react';
import { RunEvents } from '../run/events.ts';
import { colorLevel, palette } from './color.ts';
import { LiveApp, LiveStore } from './live.ts';
import { plainRenderer } from './plain.ts';

export type OutputMode = 'live' | 'plain';

export interface Output {
  mode: OutputMode;
  events: RunEvents;
  log(msg: string): void;
  close(): Promise<void>;
}

type Env = Readonly<Record<string, string | undefined>>;

const truthy = (v: string | undefined): boolean => v !== undefined && v !== '0' && v !== 'false';

/** Pure: which renderer a command gets. */
export function outputMode(isTTY: boolean, json: boolean, env: Env): OutputMode {
  if (env['FAULTLINE_UI'] === 'plain' || json || !isTTY) return 'plain';
  if (truthy(env['CI']) || truthy(env['CONTINUOUS_INTEGRATION'])) return 'plain';
  return 'live';
}

export function startOutput(o: { json: boolean; stream?: NodeJS.WriteStream; env?: Env }): Output {
  const stream = o.stream ?? process.stderr;
  const env = o.env ?? process.env;
  const isTTY = stream.isTTY === true;
  const events = new RunEvents();
  const log = (msg: string): void => events.emit({ type: 'log', msg });
  const c = palette(colorLevel(env, isTTY));
  const mode = outputMode(isTTY, o.json, env);
  if (mode === 'plain') {
    const off = events.subscribe(plainRenderer({ write: (s) => stream.write(s), level: colorLevel(env, isTTY) }));
    return { mode, events, log, close: async () => off() };
  }
  const store = new LiveStore(events, () => performance.now());
  const app = render(h(LiveApp, { store, c }), {
    stdout: stream,
    stderr: stream,
    exitOnCtrlC: false,
    patchConsole: false,
    maxFps: 10,
  });
  let closed: Promise<void> | null = null;
  return {
    mode,
    events,
    log,
    close: () =>
      (closed ??= (async () => {
        // the last events (the verdict) drawn before the app goes
        await new Promise((r) => setTimeout(r, 120));
        app.unmount();
        store.dispose();
        await app.waitUntilExit().catch(() => undefined);
      })()),
  };
}
