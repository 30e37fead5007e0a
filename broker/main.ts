/**
 * The broker's own entry point (`faultline broker ...`, or `node --import tsx broker/main.ts ...` in a
 * container): parses the command line, validates the settings once, starts a node, and shuts it down
 * cleanly on SIGTERM/SIGINT. It never imports the harness (design.md, "Folders").
 *
 *   --id N                     broker id (also its Raft voter id)
 *   --listen HOST:PORT         Kafka listener for clients and follower fetches
 *   --advertise HOST:PORT      address given to clients in Metadata (default: --listen)
 *   --data-dir DIR             partition logs, Raft log and state
 *   --controller-listen H:P    the Raft quorum's own listener (required with --voters of more than one node)
 *   --voters 1@H:P,2@H:P,...   the quorum's voters (default: this node alone); a node whose --id is not
 *                              among them is a broker-only observer that pulls the metadata log
 *   --config FILE              Kafka-style properties file
 *   --set key=value            one setting (repeatable), wins over --config
 *   --log-level L              debug|info|warn|error (default info)
 *   --bug NAME                 plant one defect of the planted-bug catalogue (broker/bugs.ts); never default
 *
 * If the environment names FAULTLINE_PARENT_PID, the node exits when that process is gone, so a
 * crashed harness leaves no broker behind.
 */
import { ConfigError, loadConfig, type BrokerConfig } from './config.ts';
import { createLogger, type Level } from './logger.ts';
import { bugNames, plantBug, type BugName } from './bugs.ts';
import { realTimers } from './runtime/real.ts';
import { FlagError, helpText, parseCommandLine, stringOf, stringsOf } from './flags.ts';
import type { CommandTable } from './flags.ts';

export class BrokerUsageError extends Error {
  readonly code = 'BROKER_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'BrokerUsageError';
  }
}

export interface HostPort {
  host: string;
  port: number;
}

export interface BrokerOptions {
  id: number;
  listen: HostPort;
  advertise: HostPort;
  dataDir: string;
  controllerListen: HostPort | null;
  voters: Array<{ id: number } & HostPort>;
  config: BrokerConfig;
  logLevel: Level;
  /** the planted bug (`--bug`), null for the clean broker */
  bug: BugName | null;
}

const hostPortCheck = (v: string): string | null => (/^.*[^:]:\d{1,5}$/.test(v) && Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535 ? null : `expects HOST:PORT with a port 0-65535; got '${v}'`);

/** The broker's command table (broker/flags.ts): its parser and `--help` come from it. */
export const brokerTable: CommandTable = {
  command: 'faultline broker',
  summary: "start one broker node of Faultline's own Kafka-compatible broker; settings take Kafka's names",
  flags: {
    id: { kind: { type: 'int', min: 0, max: 2_147_483_647 }, required: true, help: 'broker id (also its Raft voter id)' },
    listen: { kind: { type: 'string', allowed: 'HOST:PORT', check: hostPortCheck }, metavar: 'HOST:PORT', required: true, help: 'Kafka listener for clients and follower fetches' },
    'data-dir': { kind: { type: 'string', allowed: 'a directory' }, metavar: 'DIR', required: true, help: 'partition logs, Raft log and state' },
    advertise: { kind: { type: 'string', allowed: 'HOST:PORT', check: hostPortCheck }, metavar: 'HOST:PORT', default: null, defaultText: '--listen', help: 'address given to clients in Metadata' },
    'controller-listen': { kind: { type: 'string', allowed: 'HOST:PORT', check: hostPortCheck }, metavar: 'HOST:PORT', default: null, help: "the Raft quorum's own listener (required with --voters of more than one node)" },
    voters: { kind: { type: 'string', allowed: 'ID@HOST:PORT[,ID@HOST:PORT...]' }, metavar: '1@HOST:PORT,...', default: null, defaultText: 'this node alone', help: "the quorum's voters; a node whose --id is not among them is a broker-only observer" },
    config: { kind: { type: 'string', allowed: 'a Kafka-style properties file' }, metavar: 'FILE', default: null, help: 'Kafka-style properties file' },
    set: { kind: { type: 'string', allowed: 'key=value' }, metavar: 'key=value', repeatable: true, default: null, help: 'one setting, wins over --config' },
    'log-level': { kind: { type: 'choice', values: ['debug', 'info', 'warn', 'error'] }, default: 'info', help: 'log level' },
    bug: { kind: { type: 'choice', values: bugNames }, default: null, help: 'plant one defect of the planted-bug catalogue (broker/bugs.ts); never default' },
  },
};

export const brokerUsage = helpText(brokerTable);

export function parseHostPort(flag: string, s: string): HostPort {
  const m = /^(.*):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || m[1] === '' || port > 65535) throw new BrokerUsageError(`${flag} expects HOST:PORT with a port 0-65535, got '${s}'`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

export function parseVoterList(s: string): Array<{ id: number } & HostPort> {
  const voters = s.split(',').map((part) => {
    const m = /^(\d+)@(.+)$/.exec(part.trim());
    if (!m) throw new BrokerUsageError(`--voters expects ID@HOST:PORT[,ID@HOST:PORT...], got '${part}'`);
    return { id: Number(m[1]), ...parseHostPort('--voters', m[2]!) };
  });
  const ids = new Set(voters.map((v) => v.id));
  if (ids.size !== voters.length) throw new BrokerUsageError(`--voters names a voter id twice: '${s}'`);
  return voters;
}

export function parseBrokerArgs(argv: string[]): BrokerOptions {
  const t = brokerTable;
  let values;
  try {
    ({ values } = parseCommandLine(t, argv));
  } catch (err) {
    if (err instanceof FlagError) throw new BrokerUsageError(err.message);
    throw err;
  }
  const id = Number(stringOf(t, values, 'id'));
  const listen = parseHostPort('--listen', stringOf(t, values, 'listen')!);
  const cl = stringOf(t, values, 'controller-listen');
  const controllerListen = cl !== null ? parseHostPort('--controller-listen', cl) : null;
  const votersRaw = stringOf(t, values, 'voters');
  const voters = votersRaw !== null ? parseVoterList(votersRaw) : [{ id, host: controllerListen?.host ?? listen.host, port: controllerListen?.port ?? 0 }];
  // A node not among the voters is a broker-only observer: it pulls the metadata log from the voters.
  const observer = !voters.some((v) => v.id === id);
  if (!observer && voters.length > 1 && controllerListen === null) throw new BrokerUsageError('--controller-listen HOST:PORT is required with more than one voter');
  if (observer && controllerListen !== null) throw new BrokerUsageError(`--controller-listen is only for voters; broker ${id} is not in --voters '${votersRaw}'`);
  const logLevel = stringOf(t, values, 'log-level') as Level;
  const bugRaw = stringOf(t, values, 'bug');
  const bug: BugName | null = bugRaw === null ? null : (bugRaw as BugName);
  let config: BrokerConfig;
  try {
    config = loadConfig({ file: stringOf(t, values, 'config') ?? undefined, sets: stringsOf(t, values, 'set') });
  } catch (err) {
    if (err instanceof ConfigError) throw new BrokerUsageError(err.message);
    throw err;
  }
  const advertise = stringOf(t, values, 'advertise');
  return {
    id,
    listen,
    advertise: advertise !== null ? parseHostPort('--advertise', advertise) : listen,
    dataDir: stringOf(t, values, 'data-dir')!,
    controllerListen,
    voters,
    config,
    logLevel,
    bug,
  };
}

/** Starts a node from the command line and keeps it running until a signal; returns the exit code. */
export async function runBroker(argv: string[]): Promise<number> {
  let opts: BrokerOptions;
  try {
    if (parseCommandLine(brokerTable, argv).help) {
      process.stdout.write(brokerUsage + '\n');
      return 0;
    }
  } catch {
    // reported below, by parseBrokerArgs
  }
  try {
    opts = parseBrokerArgs(argv);
  } catch (err) {
    if (err instanceof BrokerUsageError) {
      process.stderr.write(`faultline broker: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger(`broker ${opts.id}`, opts.logLevel);
  plantBug(opts.bug);
  if (opts.bug !== null) logger.warn(`planted bug '${opts.bug}' is active: this broker is deliberately broken`);
  const { BrokerNode } = await import('./node.ts');
  const node = new BrokerNode(opts, logger);
  try {
    await node.start();
  } catch (err) {
    logger.error(`failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await node.stop().catch(() => undefined);
    return 1;
  }
  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      logger.info(`shutting down (${why})`);
      // Bounded: controlled shutdown has its own bound, the rest of the stop gets 10 s.
      const hard = realTimers.setTimeout(() => resolve(1), (opts.config['controlled.shutdown.enable'] ? opts.config['controlled.shutdown.timeout.ms'] : 0) + 10_000);
      hard.unref?.();
      node.stop().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error(`shutdown failed: ${String(err)}`);
          resolve(1);
        },
      );
    };
    // Fail-stop, as Kafka halts on a metadata log I/O error: no controlled shutdown, no flush; the
    // supervisor (the harness's disk-free, systemd, ...) starts it again on a disk that works.
    node.metadata.onFatal((err) => {
      logger.error(`the metadata log failed (${err.message}): exiting`);
      resolve(1);
    });
    // The same for a partition log write that failed after its append was accepted (group commit):
    // its offsets are taken, so the only safe answer is to stop (no response has left since).
    node.onLogWriteFailure((err) => {
      logger.error(`a partition log write failed (${err.message}): exiting`);
      resolve(1);
    });
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    const parent = Number(process.env['FAULTLINE_PARENT_PID'] ?? '');
    if (Number.isInteger(parent) && parent > 0) {
      const watch = realTimers.setInterval(() => {
        try {
          process.kill(parent, 0);
        } catch {
          realTimers.clearInterval(watch);
          stop(`parent process ${parent} is gone`);
        }
      }, 500);
      watch.unref?.();
    }
  });
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly) {
  runBroker(process.argv.slice(2)).then((code) => process.exit(code));
}
