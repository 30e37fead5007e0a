/**
 * `faultline run` flags (design.md "CLI"), parsed and validated once at the boundary (style.md item 8).
 * Every error names the flag, what was given and what is allowed; inside, `RunOptions` is trusted.
 *
 * `test.json` stores these options under the flag's camelCase name (acks as "0" | "1" | "all",
 * nemesis as a list), which is exactly the shape of `RunOptions` minus `out` and `json`.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadSystem } from '../backends/system.ts';
import { UsageError } from '../errors.ts';
import { faults } from '../../nemesis/index.ts';
import type { FaultName } from '../../nemesis/index.ts';
import { BugUsageError, parseBugName, type BugName } from '../../broker/bugs.ts';
import { buildConfig, ConfigError, parseSetting } from '../../broker/config.ts';

export const backends = ['local', 'docker'] as const;
export const workloadNames = ['queue', 'log'] as const;
export const acksValues = ['0', '1', 'all'] as const;
export const consumerModeValues = ['subscribe', 'assign', 'mixed'] as const;
/** every fault the nemesis registry knows (kill, kill-leader, pause, partition-halves, ...) */
export const nemesisFaults = Object.keys(faults) as FaultName[];

export type Acks = (typeof acksValues)[number];
export type NemesisFault = FaultName;

export interface RunOptions {
  backend: (typeof backends)[number];
  nodes: number;
  workload: (typeof workloadNames)[number];
  acks: Acks;
  replicationFactor: number;
  minInsync: number;
  partitions: number;
  uncleanElection: boolean;
  idempotence: boolean;
  retries: number;
  /** faults, empty for `none` */
  nemesis: NemesisFault[];
  /** seconds between fault starts */
  nemesisInterval: number;
  /** seconds of load */
  timeLimit: number;
  /** total ops per second over all processes */
  rate: number;
  concurrency: number;
  /** consumers reading during the load */
  consumers: number;
  consumerMode: (typeof consumerModeValues)[number];
  /** mean seconds between consumer crashes (kill + rejoin) or reassignments; 0 for none */
  consumerCrashInterval: number;
  /** seconds between a consumer's explicit offset commits; 0 for none */
  commitInterval: number;
  seed: number;
  /** the planted bug every node runs with (`--bug`), null for the clean broker */
  bug: BugName | null;
  /** Kafka-named broker settings for every node (`--set key=value`, repeatable), over the harness's own */
  set: Record<string, string>;
  /** the run directory whose recorded fault schedule this run plays again (`--replay`), or null */
  replay: string | null;
  /** the system definition file (`--system`, an absolute path), or null for Faultline's own broker */
  system: string | null;
  out: string;
  json: boolean;
}

export const runDefaults = {
  backend: 'local',
  nodes: 3,
  workload: 'queue',
  acks: 'all',
  replicationFactor: 3,
  minInsync: 2,
  partitions: 3,
  uncleanElection: false,
  idempotence: false,
  retries: 3,
  nemesis: ['kill'],
  nemesisInterval: 5,
  timeLimit: 30,
  rate: 100,
  concurrency: 4,
  consumers: 2,
  consumerMode: 'mixed',
  consumerCrashInterval: 5,
  commitInterval: 1,
  out: 'results',
  json: false,
} as const satisfies Omit<RunOptions, 'seed' | 'nemesis' | 'bug' | 'set' | 'replay' | 'system'> & { nemesis: readonly NemesisFault[] };

/** Flags shared by `run` and `campaign` (parseArgs config); values stay strings until validated. */
export const runFlagSpec = {
  backend: { type: 'string' },
  nodes: { type: 'string' },
  workload: { type: 'string' },
  acks: { type: 'string' },
  'replication-factor': { type: 'string' },
  'min-insync': { type: 'string' },
  partitions: { type: 'string' },
  'unclean-election': { type: 'boolean' },
  idempotence: { type: 'boolean' },
  retries: { type: 'string' },
  nemesis: { type: 'string' },
  'nemesis-interval': { type: 'string' },
  'time-limit': { type: 'string' },
  rate: { type: 'string' },
  concurrency: { type: 'string' },
  consumers: { type: 'string' },
  'consumer-mode': { type: 'string' },
  'consumer-crash-interval': { type: 'string' },
  'commit-interval': { type: 'string' },
  seed: { type: 'string' },
  bug: { type: 'string' },
  set: { type: 'string', multiple: true },
  replay: { type: 'string' },
  system: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const runUsage = `usage: faultline run [options]
  --backend local|docker     cluster backend (default local; docker: containers, see faultline image build)
  --system FILE              system definition: what runs on each node (default systems/faultline.json)
  --nodes N                  broker nodes, 1..9 (default 3)
  --workload queue|log       workload (default queue; log also checks linearizability of the partition logs)
  --acks 0|1|all             producer acks (default all)
  --replication-factor N     topic replication factor, 1..nodes (default 3)
  --min-insync N             topic min.insync.replicas, 1..replication-factor (default 2)
  --partitions N             partitions of the test topic, 1..64 (default 3)
  --unclean-election         allow unclean leader election
  --idempotence              idempotent producer (needs --acks all)
  --retries N                producer retries, 0..20 (default 3)
  --nemesis LIST             comma list of ${nemesisFaults.join(', ')}; or none (default kill)
  --nemesis-interval S       seconds between faults (default 5)
  --time-limit S             seconds of load (default 30)
  --rate N                   total ops per second (default 100)
  --concurrency N            producer processes, 1..64 (default 4)
  --consumers N              consumers reading during the load, 0..16 (default 2)
  --consumer-mode M          subscribe (a consumer group), assign (each consumer takes seeded partitions
                             and seeks to their start), or mixed: half each (default mixed)
  --consumer-crash-interval S  mean seconds between consumer crashes (killed, a new one joins) or
                             assign-mode reassignments; 0 for none (default 5)
  --commit-interval S        seconds between a consumer's explicit offset commits; 0 for none (default 1)
  --seed N                   seed for every random choice, 0..4294967295 (default random)
  --bug NAME                 plant one defect of the catalogue (docs/bugs.md) in every node; never default
  --set key=value            a Kafka-named broker setting for every node (repeatable), e.g. log.flush.interval.messages=1
  --replay RUN_DIR           run RUN_DIR's recorded fault schedule again, with its options and seed (flags given here override)
  --out DIR                  results folder (default results)
  --json                     print the results as one JSON object on stdout`;

export type RawFlags = Partial<Record<keyof typeof runFlagSpec, string | boolean | string[] | undefined>>;

function intFlag(flags: RawFlags, name: keyof typeof runFlagSpec, def: number, min: number, max: number): number {
  const raw = flags[name];
  if (raw === undefined) return def;
  const s = String(raw).trim();
  if (!/^-?\d+$/.test(s)) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got '${s}'`);
  const n = Number(s);
  if (n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${n}`);
  return n;
}

function numFlag(flags: RawFlags, name: keyof typeof runFlagSpec, def: number, min: number, max: number): number {
  const raw = flags[name];
  if (raw === undefined) return def;
  const s = String(raw).trim();
  const n = Number(s);
  if (s === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a number from ${min} to ${max}, got '${s}'`);
  }
  return n;
}

function oneOf<T extends string>(flags: RawFlags, name: keyof typeof runFlagSpec, def: T, allowed: readonly T[]): T {
  const raw = flags[name];
  if (raw === undefined) return def;
  const s = String(raw).trim();
  if (!(allowed as readonly string[]).includes(s)) {
    throw new UsageError(`--${name} '${s}' is not allowed; allowed: ${allowed.join(', ')}`);
  }
  return s as T;
}

function bugFlag(flags: RawFlags): BugName | null {
  if (flags.bug === undefined) return null;
  try {
    return parseBugName(String(flags.bug).trim());
  } catch (err) {
    if (err instanceof BugUsageError) throw new UsageError(err.message);
    throw err;
  }
}

/** Parse one nemesis value: `none`, or faults joined by `,` (run) or `+` (a campaign cell). */
export function parseNemesis(s: string, flag = 'nemesis'): NemesisFault[] {
  const parts = s.split(/[,+]/).map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw new UsageError(`--${flag} is empty; allowed: none or a list of ${nemesisFaults.join(', ')}`);
  if (parts.length === 1 && parts[0] === 'none') return [];
  const out: NemesisFault[] = [];
  for (const p of parts) {
    if (p === 'none') throw new UsageError(`--${flag}: 'none' cannot be combined with faults`);
    if (!Object.hasOwn(faults, p)) {
      throw new UsageError(`--${flag} '${p}' is not a known fault; allowed: none, ${nemesisFaults.join(', ')}`);
    }
    if (!out.includes(p as NemesisFault)) out.push(p as NemesisFault);
  }
  return out;
}

export function randomSeed(): number {
  return Math.floor(Math.random() * 0x1_0000_0000);
}

/** Validate parsed flags into RunOptions. `acks` and `nemesis` may be overridden (campaign cells). */
export function validateRunFlags(flags: RawFlags, seed: () => number = randomSeed): RunOptions {
  const backend = oneOf(flags, 'backend', runDefaults.backend, backends);
  const nodes = intFlag(flags, 'nodes', runDefaults.nodes, 1, 9);
  const replicationFactor = intFlag(flags, 'replication-factor', Math.min(runDefaults.replicationFactor, nodes), 1, 9);
  if (replicationFactor > nodes) {
    throw new UsageError(`--replication-factor ${replicationFactor} exceeds --nodes ${nodes}; allowed: 1 to ${nodes}`);
  }
  const minInsync = intFlag(flags, 'min-insync', Math.min(runDefaults.minInsync, replicationFactor), 1, 9);
  if (minInsync > replicationFactor) {
    throw new UsageError(`--min-insync ${minInsync} exceeds --replication-factor ${replicationFactor}; allowed: 1 to ${replicationFactor}`);
  }
  const acks = oneOf(flags, 'acks', runDefaults.acks, acksValues);
  const idempotence = flags.idempotence === true;
  if (idempotence && acks !== 'all') {
    throw new UsageError(`--idempotence needs --acks all (got --acks ${acks})`);
  }
  const retries = intFlag(flags, 'retries', runDefaults.retries, 0, 20);
  if (idempotence && retries === 0) {
    throw new UsageError('--idempotence needs --retries 1 or more (an idempotent producer retries transient errors; kafkajs refuses retries 0)');
  }
  const nemesisRaw = flags.nemesis;
  const nemesis = nemesisRaw === undefined ? [...runDefaults.nemesis] : parseNemesis(String(nemesisRaw));
  const out = flags.out === undefined ? runDefaults.out : String(flags.out);
  if (out.trim() === '') throw new UsageError('--out must name a directory');
  return {
    backend,
    nodes,
    workload: oneOf(flags, 'workload', runDefaults.workload, workloadNames),
    acks,
    replicationFactor,
    minInsync,
    partitions: intFlag(flags, 'partitions', runDefaults.partitions, 1, 64),
    uncleanElection: flags['unclean-election'] === true,
    idempotence,
    retries,
    nemesis,
    nemesisInterval: numFlag(flags, 'nemesis-interval', runDefaults.nemesisInterval, 0.1, 3600),
    timeLimit: numFlag(flags, 'time-limit', runDefaults.timeLimit, 0.1, 86400),
    rate: numFlag(flags, 'rate', runDefaults.rate, 0.1, 10000),
    concurrency: intFlag(flags, 'concurrency', runDefaults.concurrency, 1, 64),
    consumers: intFlag(flags, 'consumers', runDefaults.consumers, 0, 16),
    consumerMode: oneOf(flags, 'consumer-mode', runDefaults.consumerMode, consumerModeValues),
    consumerCrashInterval: numFlag(flags, 'consumer-crash-interval', runDefaults.consumerCrashInterval, 0, 3600),
    commitInterval: numFlag(flags, 'commit-interval', runDefaults.commitInterval, 0, 3600),
    seed: flags.seed === undefined ? seed() : intFlag(flags, 'seed', 0, 0, 0xffff_ffff),
    bug: bugFlag(flags),
    set: setFlag(flags),
    replay: flags.replay === undefined ? null : String(flags.replay),
    system: systemFlag(flags),
    out,
    json: flags.json === true,
  };
}

/** `--system FILE`: loaded and validated now (a bad definition is refused before anything starts). */
function systemFlag(flags: RawFlags): string | null {
  if (flags.system === undefined) return null;
  const path = resolve(String(flags.system));
  loadSystem(path);
  return path;
}

/**
 * `--set key=value` (repeatable): each validated as the broker validates it (known Kafka-named key,
 * allowed value), so a bad setting is refused before any node starts.
 */
function setFlag(flags: RawFlags): Record<string, string> {
  const raw = flags.set;
  const items = raw === undefined ? [] : Array.isArray(raw) ? raw : [String(raw)];
  const out: Record<string, string> = {};
  for (const item of items) {
    try {
      const [k, v] = parseSetting(item);
      buildConfig({ [k]: v });
      out[k] = v;
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError(`--set ${item}: ${err.message}`);
      throw err;
    }
  }
  return out;
}

/** parseArgs with messages that name the flag; unknown flags and stray positionals are refused. */
export function parseFlags<S extends Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>>(
  argv: string[],
  spec: S,
  positionals = 0,
): { values: Partial<Record<keyof S, string | boolean | string[]>>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: spec, allowPositionals: positionals > 0, strict: true });
  } catch (err) {
    const allowed = Object.keys(spec).map((k) => `--${k}`).join(' ');
    throw new UsageError(`${(err as Error).message.split('\n')[0]}; allowed flags: ${allowed}`);
  }
  if (parsed.positionals.length > positionals) {
    throw new UsageError(`unexpected argument '${parsed.positionals[positionals] ?? ''}'`);
  }
  return { values: parsed.values as Partial<Record<keyof S, string | boolean | string[]>>, positionals: parsed.positionals };
}

/** `queue-acks1-kill`, `queue-acksall-kill+partition`, `queue-acks0-none`. */
export function testName(o: Pick<RunOptions, 'workload' | 'acks' | 'nemesis'>): string {
  return `${o.workload}-acks${o.acks}-${o.nemesis.length === 0 ? 'none' : o.nemesis.join('+')}`;
}

/** The option part of test.json: every flag under its camelCase name, minus output-only flags. */
export function testOptions(o: RunOptions): Omit<RunOptions, 'out' | 'json'> {
  const { out: _out, json: _json, ...rest } = o;
  return rest;
}

/** Kafka-named broker settings derived from the options, passed to every node (`--set k=v`). */
export function brokerSettings(o: RunOptions): Record<string, string> {
  return {
    ...harnessBrokerSettings(o),
    ...o.set,
  };
}

function harnessBrokerSettings(o: RunOptions): Record<string, string> {
  return {
    'default.replication.factor': String(o.replicationFactor),
    'min.insync.replicas': String(o.minInsync),
    'unclean.leader.election.enable': String(o.uncleanElection),
    'num.partitions': String(o.partitions),
    'auto.create.topics.enable': 'false',
    'broker.session.timeout.ms': '3000',
    'broker.heartbeat.interval.ms': '500',
    'replica.lag.time.max.ms': '3000',
    'controller.quorum.election.timeout.ms': '1000',
    'controller.quorum.fetch.timeout.ms': '2000',
    'group.min.session.timeout.ms': '1000',
    // Followers retry fast and give up on a silent leader within seconds, so ISRs recover soon after
    // a fault heals (Kafka's 1 s backoff and 30 s socket timeout would hide recovery behind waits).
    'replica.fetch.backoff.ms': '100',
    'replica.socket.timeout.ms': '5000',
  };
}
