/**
 * The `faultline` command line: a registry of subcommands, each a module under `commands/` that
 * exports `run(argv): Promise<number>` returning the process exit code (design.md, "CLI").
 * Exit codes: 0 valid, 1 invalid, 2 unknown or harness error (message on stderr).
 * Each command parses its argv by its own table (broker/flags.ts), which also generates its `--help`;
 * a user error (`CliError`, `FlagError`) is printed as one line naming what was wrong and what is
 * allowed, exit 2, never a stack trace.
 */
import { CliError } from './errors.ts';
import { FlagError, nearest } from '../broker/flags.ts';

type Command = { summary: string; module: string };

export const commands = {
  broker: { summary: 'start one broker node (the system under test)', module: './commands/broker.ts' },
  run: { summary: 'run one test: cluster, workload, nemesis, checkers', module: './commands/run.ts' },
  campaign: { summary: 'run a matrix of tests (acks x nemesis x repeats) and compare', module: './commands/campaign.ts' },
  hunt: { summary: 'measure the harness: runs against each planted bug until caught, and the clean broker', module: './commands/hunt.ts' },
  check: { summary: 're-run the checkers on a stored run directory', module: './commands/check.ts' },
  lin: { summary: 'check a history for linearizability against a model', module: './commands/lin.ts' },
  cluster: { summary: 'start, stop or inspect a cluster to explore by hand', module: './commands/cluster.ts' },
  admin: { summary: 'cluster administration (partition reassignment, leader election)', module: './commands/admin.ts' },
  image: { summary: 'build the broker image for the docker backend, offline', module: './commands/image.ts' },
  doctor: { summary: 'what this machine supports (root, namespaces, iptables, docker)', module: './commands/doctor.ts' },
  serve: { summary: 'browse stored runs, campaigns and hunts in a web browser (127.0.0.1 by default)', module: './commands/serve.ts' },
} as const satisfies Record<string, Command>;

export type CommandName = keyof typeof commands;

function usage(): string {
  const lines = ['usage: faultline <command> [options]   (faultline <command> --help for its options)', '', 'commands:'];
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${c.summary}`);
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    process.exitCode = name === undefined ? 2 : 0;
    return;
  }
  if (!Object.hasOwn(commands, name)) {
    const near = nearest(name, Object.keys(commands));
    process.stderr.write(`faultline: unknown command '${name}'${near === null ? '' : `; did you mean ${near}?`}; allowed: ${Object.keys(commands).join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  const command = commands[name as CommandName];
  try {
    const mod = (await import(new URL(command.module, import.meta.url).href)) as { run(argv: string[]): Promise<number> };
    process.exitCode = await mod.run(rest);
  } catch (err) {
    if (err instanceof CliError || err instanceof FlagError) {
      // a user error: one line, no stack (docs/exit-codes.md)
      process.stderr.write(`faultline ${name}: ${err.message.split('\n')[0]}\n`);
    } else {
      process.stderr.write(`faultline ${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    process.exitCode = 2;
  }
}
