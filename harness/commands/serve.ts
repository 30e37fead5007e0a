/**
 * `faultline serve [DIR] [--host 127.0.0.1] [--port 8080]` (design.md "CLI"): browse the runs, campaigns
 * and hunts stored under DIR (default `results`) in a web browser; harness/serve/server.ts says what is
 * served and how paths outside DIR are refused. Binds 127.0.0.1 unless told otherwise; `--port 0` picks
 * a free port. Prints one line `faultline serve: <url> (DIR)` on stderr once listening, and serves until
 * SIGINT or SIGTERM (exit 0). Exit 2 when DIR is not a directory or the address cannot be bound.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { boolOf, helpText, intOf, parseCommandLine, stringOf } from '../../broker/flags.ts';
import type { CommandTable } from '../../broker/flags.ts';
import { CliError } from '../errors.ts';
import { startServer } from '../serve/server.ts';

export const serveTable: CommandTable = {
  command: 'faultline serve',
  summary: 'browse stored runs, campaigns and hunts: newest first, coloured by verdict, filterable, each opening its report.html; a run directory downloads as one .tar.gz',
  positionals: [{ name: 'DIR', help: 'the results directory', required: false }],
  flags: {
    host: { kind: { type: 'string', allowed: 'an address to bind' }, metavar: 'HOST', default: '127.0.0.1', help: 'address to listen on (0.0.0.0 shows your results to the network)' },
    port: { kind: { type: 'int', min: 0, max: 65535 }, default: 8080, help: 'port to listen on; 0 picks a free one' },
    json: { kind: { type: 'boolean' }, help: 'print {"url": ..., "dir": ...} as one JSON object on stdout once listening' },
  },
};

export async function run(argv: string[]): Promise<number> {
  const t = serveTable;
  const { values, positionals, help } = parseCommandLine(t, argv);
  if (help) {
    process.stdout.write(helpText(t) + '\n');
    return 0;
  }
  const dir = resolve(positionals[0] ?? 'results');
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new CliError('FAULTLINE_NOT_A_DIR', `${dir} is not a directory (faultline serve DIR: a results directory, default results)`);
  const host = stringOf(t, values, 'host') ?? '127.0.0.1';
  const port = intOf(t, values, 'port');
  let started;
  try {
    started = await startServer({ root: dir, host, port, log: (m) => process.stderr.write(`faultline serve: ${m}\n`) });
  } catch (err) {
    throw new CliError('FAULTLINE_LISTEN', `cannot listen on ${host}:${port}: ${(err as Error).message}`);
  }
  process.stderr.write(`faultline serve: ${started.url} (${dir}); Ctrl-C stops it\n`);
  if (boolOf(values, 'json')) process.stdout.write(JSON.stringify({ url: started.url, dir }) + '\n');
  await new Promise<void>((done) => {
    const stop = (): void => {
      started.server.close(() => done());
      started.server.closeAllConnections();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
