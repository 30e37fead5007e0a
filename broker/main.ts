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
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type BrokerConfig } from './config.ts';
import { createLogger, type Level } from './logger.ts';
import { BugUsageError, parseBugName, plantBug, type BugName } from './bugs.ts';
import { realTimers } from './runtime/real.ts';

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

export const brokerUsage = `usage: faultline broker --id N --listen HOST:PORT --data-dir DIR
         [--advertise HOST:PORT] [--controller-listen HOST:PORT --voters 1@HOST:PORT,2@HOST:PORT,...]
         [--config FILE] [--set key=value ...] [--log-level debug|info|warn|error] [--bug NAME]`;

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
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        id: { type: 'string' },
        listen: { type: 'string' },
        advertise: { type: 'string' },
        'data-dir': { type: 'string' },
        'controller-listen': { type: 'string' },
        voters: { type: 'string' },
        config: { type: 'string' },
        set: { type: 'string', multiple: true },
        'log-level': { type: 'string' },
        bug: { type: 'string' },
      },
    }));
  } catch (err) {
    throw new BrokerUsageError(`${(err as Error).message}\n${brokerUsage}`);
  }
  if (values.id === undefined || !/^\d+$/.test(values.id)) throw new BrokerUsageError(`--id expects a non-negative integer, got '${values.id ?? ''}'\n${brokerUsage}`);
  if (values.listen === undefined) throw new BrokerUsageError(`--listen HOST:PORT is required\n${brokerUsage}`);
  if (values['data-dir'] === undefined) throw new BrokerUsageError(`--data-dir DIR is required\n${brokerUsage}`);
  const id = Number(values.id);
  const listen = parseHostPort('--listen', values.listen);
  const controllerListen = values['controller-listen'] ? parseHostPort('--controller-listen', values['controller-listen']) : null;
  const voters = values.voters ? parseVoterList(values.voters) : [{ id, host: controllerListen?.host ?? listen.host, port: controllerListen?.port ?? 0 }];
  // A node not among the voters is a broker-only observer: it pulls the metadata log from the voters.
  const observer = !voters.some((v) => v.id === id);
  if (!observer && voters.length > 1 && controllerListen === null) throw new BrokerUsageError('--controller-listen HOST:PORT is required with more than one voter');
  if (observer && controllerListen !== null) throw new BrokerUsageError(`--controller-listen is only for voters; broker ${id} is not in --voters '${values.voters}'`);
  const logLevel = (values['log-level'] ?? 'info') as Level;
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) throw new BrokerUsageError(`--log-level expects debug|info|warn|error, got '${logLevel}'`);
  let bug: BugName | null = null;
  try {
    bug = values.bug === undefined ? null : parseBugName(values.bug);
  } catch (err) {
    if (err instanceof BugUsageError) throw new BrokerUsageError(err.message);
    throw err;
  }
  let config: BrokerConfig;
  try {
    config = loadConfig({ file: values.config, sets: values.set ?? [] });
  } catch (err) {
    if (err instanceof ConfigError) throw new BrokerUsageError(err.message);
    throw err;
  }
  return {
    id,
    listen,
    advertise: values.advertise ? parseHostPort('--advertise', values.advertise) : listen,
    dataDir: values['data-dir'],
    controllerListen,
    voters,
    config,
    logLevel,
    bug,
  };
}

/** Starts a node from the command line and keeps it running until a signal; returns the exit code. */
export async function runBroker(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(brokerUsage + '\n');
    return 0;
  }
  let opts: BrokerOptions;
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
