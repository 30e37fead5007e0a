/**
 * Ctrl-C handling for `run` and `campaign`: the first SIGINT or SIGTERM aborts the returned signal (the
 * run stops its load, stops the cluster and still writes results); a second one exits at once with
 * 130, leaving cleanup to the backend's exit handler. `dispose()` removes the handlers.
 */
export interface Interrupt {
  signal: AbortSignal;
  dispose(): void;
}

export function onInterrupt(log: (msg: string) => void): Interrupt {
  const ac = new AbortController();
  const handler = (sig: NodeJS.Signals): void => {
    if (ac.signal.aborted) {
      log(`${sig} again: exiting now`);
      process.exit(130);
    }
    log(`${sig}: stopping the load and the cluster; results will be written from the partial history (again to exit now)`);
    ac.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
