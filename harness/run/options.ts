/**
 * `faultline run` flags (design.md "CLI"), parsed and validated once at the boundary (style.md item 8).
 * Every error names the flag, what was given and what is allowed; inside, `RunOptions` is trusted.
 *
 * `test.json` stores these options under the flag's camelCase name (acks as "0" | "1" | "all",
 * nemesis as a list), in the flag's own units (`StoredRunOptions`, minus `out` and `json`).
 *
 * Units: seconds exist only at this boundary. A seconds flag (`--time-limit`, `--nemesis-interval`,
 * `--consumer-crash-interval`, `--commit-interval`) is read once with `msOf` into a `...Ms` option;
 * every function and field inside takes milliseconds. `storedRunOptions` writes them back in seconds
 * under the flag's name (test.json, campaign.json and hunt.json `options`), and `--replay` reads those
 * back through the flags, so parse -> store -> replay gives the same milliseconds (`runSecondsFlags`).
 */
import { resolve } from 'node:path';
import { loadSystem } from '../backends/system.ts';
import { UsageError } from '../errors.ts';
import { boolOf, choiceOf, helpText, intOf, msOf, msPerS, numberOf, parseCommandLine, stringOf, stringsOf } from '../../broker/flags.ts';
import type { CommandTable, Flag, ParsedCommandLine, RawValues } from '../../broker/flags.ts';
import { faults, sequenceError } from '../../nemesis/index.ts';
import type { FaultName } from '../../nemesis/index.ts';
import { bugNames, type BugName } from '../../broker/bugs.ts';
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
  /** mean ms of each quiet and each fault period (`--nemesis-interval`, seconds) */
  nemesisIntervalMs: number;
  /** run the `+`-joined faults as one chained sequence in the listed order, not on independent lanes (`--nemesis-sequence`) */
  nemesisSequence: boolean;
  /** ms of load (`--time-limit`, seconds) */
  timeLimitMs: number;
  /** total ops per second over all processes */
  rate: number;
  concurrency: number;
  /** consumers reading during the load */
  consumers: number;
  consumerMode: (typeof consumerModeValues)[number];
  /** mean ms between consumer crashes (kill + rejoin) or reassignments; 0 for none (`--consumer-crash-interval`, seconds) */
  consumerCrashIntervalMs: number;
  /** ms between a consumer's explicit offset commits; 0 for none (`--commit-interval`, seconds) */
  commitIntervalMs: number;
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
  nemesisIntervalMs: 5_000,
  nemesisSequence: false,
  timeLimitMs: 30_000,
  rate: 100,
  concurrency: 4,
  consumers: 2,
  consumerMode: 'mixed',
  consumerCrashIntervalMs: 5_000,
  commitIntervalMs: 1_000,
  out: 'results',
  json: false,
} as const satisfies Omit<RunOptions, 'seed' | 'nemesis' | 'bug' | 'set' | 'replay' | 'system'> & { nemesis: readonly NemesisFault[] };

/** Valid `--nemesis` items: `none` and every fault of the registry (design.md "Nemesis names"). */
export const nemesisNames = ['none', ...nemesisFaults] as const;

/**
 * The `faultline run` table (broker/flags.ts): parser and `--help` are generated from it; campaign and
 * hunt build theirs from it. Ranges and defaults here are the only ones: `validateRunFlags` reads them.
 */
export const runFlags = {
  backend: { kind: { type: 'choice', values: backends }, default: runDefaults.backend, help: 'cluster backend (docker: one container per node, see faultline image build)' },
  nodes: { kind: { type: 'int', min: 1, max: 9 }, default: runDefaults.nodes, help: 'broker nodes' },
  workload: { kind: { type: 'choice', values: workloadNames }, default: runDefaults.workload, help: 'workload (log also checks linearizability of the partition logs)' },
  acks: { kind: { type: 'choice', values: acksValues }, default: runDefaults.acks, help: 'producer acks' },
  'replication-factor': { kind: { type: 'int', min: 1, max: 9 }, default: runDefaults.replicationFactor, defaultText: '3, or --nodes when fewer', help: 'topic replication factor, at most --nodes' },
  'min-insync': { kind: { type: 'int', min: 1, max: 9 }, default: runDefaults.minInsync, defaultText: '2, or the replication factor when lower', help: 'topic min.insync.replicas, at most the replication factor' },
  partitions: { kind: { type: 'int', min: 1, max: 64 }, default: runDefaults.partitions, help: 'partitions of the test topic' },
  'unclean-election': { kind: { type: 'boolean' }, help: 'allow unclean leader election' },
  idempotence: { kind: { type: 'boolean' }, help: 'idempotent producer (needs --acks all and --retries 1 or more)' },
  retries: { kind: { type: 'int', min: 0, max: 20 }, default: runDefaults.retries, help: 'producer retries' },
  nemesis: { kind: { type: 'list', values: nemesisNames, separators: ',+', itemName: 'faults' }, default: runDefaults.nemesis.join(','), help: 'faults, each on its own seeded schedule (none: no faults)' },
  'nemesis-interval': { kind: { type: 'number', min: 0.1, max: 3600, unit: 's' }, default: runDefaults.nemesisIntervalMs / msPerS, help: 'mean seconds of each quiet and each fault period' },
  'nemesis-sequence': { kind: { type: 'boolean' }, help: 'run the faults joined with + as one chained fault in the order listed (each started 0.2 to 0.5 intervals after the previous, all held, then ended in reverse order as far apart), not on independent schedules; a fault may repeat' },
  'time-limit': { kind: { type: 'number', min: 0.1, max: 86400, unit: 's' }, default: runDefaults.timeLimitMs / msPerS, help: 'seconds of load' },
  rate: { kind: { type: 'number', min: 0.1, max: 10000, unit: 'ops/s' }, metavar: 'OPS_PER_S', default: runDefaults.rate, help: 'total ops per second over all processes' },
  concurrency: { kind: { type: 'int', min: 1, max: 64 }, default: runDefaults.concurrency, help: 'producer processes' },
  consumers: { kind: { type: 'int', min: 0, max: 16 }, default: runDefaults.consumers, help: 'consumers reading during the load' },
  'consumer-mode': { kind: { type: 'choice', values: consumerModeValues }, default: runDefaults.consumerMode, help: 'subscribe (a consumer group), assign (each consumer takes seeded partitions and seeks to their start), or mixed: half each' },
  'consumer-crash-interval': { kind: { type: 'number', min: 0, max: 3600, unit: 's' }, default: runDefaults.consumerCrashIntervalMs / msPerS, help: 'mean seconds between consumer crashes (killed, a new one joins) or assign-mode reassignments; 0 for none' },
  'commit-interval': { kind: { type: 'number', min: 0, max: 3600, unit: 's' }, default: runDefaults.commitIntervalMs / msPerS, help: "seconds between a consumer's explicit offset commits; 0 for none" },
  seed: { kind: { type: 'int', min: 0, max: 0xffff_ffff }, default: null, defaultText: 'random, printed at start', help: 'seed for every random choice' },
  bug: { kind: { type: 'choice', values: bugNames }, default: null, help: 'plant one defect of the catalogue (docs/bugs.md) in every node; never default' },
  set: { kind: { type: 'string', allowed: 'key=value, a Kafka-named broker setting', check: setError }, metavar: 'key=value', repeatable: true, default: null, help: 'a broker setting for every node, over the harness\'s own, e.g. log.flush.interval.messages=1' },
  replay: { kind: { type: 'string', allowed: 'a run directory' }, metavar: 'RUN_DIR', default: null, help: "run RUN_DIR's recorded fault schedule again, with its options and seed (flags given here override)" },
  system: { kind: { type: 'string', allowed: 'a system definition file (systems/*.json)' }, metavar: 'FILE', default: null, defaultText: 'systems/faultline.json', help: 'system definition: what runs on each node and how' },
  out: { kind: { type: 'string', allowed: 'a directory' }, metavar: 'DIR', default: runDefaults.out, help: 'results folder' },
  json: { kind: { type: 'boolean' }, help: 'print the results as one JSON object on stdout' },
} as const satisfies Record<string, Flag>;

export const runTable: CommandTable = {
  command: 'faultline run',
  summary: 'one test: cluster, workload, nemesis, checkers (exit 0 valid, 1 invalid, 2 unknown or usage/harness error)',
  flags: runFlags,
};

/** The help of `faultline run`, generated from its table. */
export const runUsage = helpText(runTable);

export type RawFlags = RawValues;

/** Why a `--set` value is refused, validated as the broker validates it; null when allowed. */
function setError(item: string): string | null {
  try {
    const [k, v] = parseSetting(item);
    buildConfig({ [k]: v });
    return null;
  } catch (err) {
    if (err instanceof ConfigError) return `${item}: ${err.message}`;
    throw err;
  }
}

/**
 * Parse one nemesis value: `none`, or faults joined by `,` (run) or `+` (a campaign cell), in order.
 * A repeated fault is dropped (one lane per fault) unless `keepRepeats` (a sequence:
 * `--nemesis-sequence`, where `stop-leader+stop-leader` stops a leader and then its successor).
 */
export function parseNemesis(s: string, flag = 'nemesis', keepRepeats = false): NemesisFault[] {
  const parts = s.split(/[,+]/).map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw new UsageError(`--${flag} is empty; allowed: none or a list of ${nemesisFaults.join(', ')}`);
  if (parts.length === 1 && parts[0] === 'none') return [];
  const out: NemesisFault[] = [];
  for (const p of parts) {
    if (p === 'none') throw new UsageError(`--${flag}: 'none' cannot be combined with faults`);
    if (!Object.hasOwn(faults, p)) {
      throw new UsageError(`--${flag} '${p}' is not a known fault; allowed: none, ${nemesisFaults.join(', ')}`);
    }
    if (keepRepeats || !out.includes(p as NemesisFault)) out.push(p as NemesisFault);
  }
  return out;
}

/**
 * One cell of `--nemesis` (a run's whole value, or one comma item of a campaign's or hunt's), read
 * under `--nemesis-sequence` when `sequence`: repeats kept, and a cell no sequence can run refused
 * before anything starts, naming the cell.
 */
export function parseNemesisCell(cell: string, sequence: boolean): NemesisFault[] {
  const faults = parseNemesis(cell, 'nemesis', sequence);
  const err = sequence ? sequenceError(faults) : null;
  if (err !== null) throw new UsageError(`--nemesis-sequence: cell '${cell}': ${err}`);
  return faults;
}

export function randomSeed(): number {
  return Math.floor(Math.random() * 0x1_0000_0000);
}

/** Validate raw flags (argv's, or strings from another source) into RunOptions, by the run table's rows. */
export function validateRunFlags(flags: RawFlags, seed: () => number = randomSeed): RunOptions {
  const t = runTable;
  const backend = choiceOf<RunOptions['backend']>(t, flags, 'backend');
  const nodes = intOf(t, flags, 'nodes');
  const replicationFactor = intOf(t, flags, 'replication-factor', Math.min(runDefaults.replicationFactor, nodes));
  if (replicationFactor > nodes) {
    throw new UsageError(`--replication-factor ${replicationFactor} exceeds --nodes ${nodes}; allowed: 1 to ${nodes}`);
  }
  const minInsync = intOf(t, flags, 'min-insync', Math.min(runDefaults.minInsync, replicationFactor));
  if (minInsync > replicationFactor) {
    throw new UsageError(`--min-insync ${minInsync} exceeds --replication-factor ${replicationFactor}; allowed: 1 to ${replicationFactor}`);
  }
  const acks = choiceOf<Acks>(t, flags, 'acks');
  const idempotence = boolOf(flags, 'idempotence');
  if (idempotence && acks !== 'all') {
    throw new UsageError(`--idempotence needs --acks all (got --acks ${acks})`);
  }
  const retries = intOf(t, flags, 'retries');
  if (idempotence && retries === 0) {
    throw new UsageError('--idempotence needs --retries 1 or more (an idempotent producer retries transient errors; kafkajs refuses retries 0)');
  }
  const nemesisSequence = boolOf(flags, 'nemesis-sequence');
  const nemesis = parseNemesisCell(stringOf(t, flags, 'nemesis') ?? 'none', nemesisSequence);
  const out = stringOf(t, flags, 'out') ?? runDefaults.out;
  const seedRaw = stringOf(t, flags, 'seed');
  const bug = stringOf(t, flags, 'bug');
  return {
    backend,
    nodes,
    workload: choiceOf<RunOptions['workload']>(t, flags, 'workload'),
    acks,
    replicationFactor,
    minInsync,
    partitions: intOf(t, flags, 'partitions'),
    uncleanElection: boolOf(flags, 'unclean-election'),
    idempotence,
    retries,
    nemesis,
    nemesisIntervalMs: msOf(t, flags, 'nemesis-interval'),
    nemesisSequence,
    timeLimitMs: msOf(t, flags, 'time-limit'),
    rate: numberOf(t, flags, 'rate'),
    concurrency: intOf(t, flags, 'concurrency'),
    consumers: intOf(t, flags, 'consumers'),
    consumerMode: choiceOf<RunOptions['consumerMode']>(t, flags, 'consumer-mode'),
    consumerCrashIntervalMs: msOf(t, flags, 'consumer-crash-interval'),
    commitIntervalMs: msOf(t, flags, 'commit-interval'),
    seed: seedRaw === null ? seed() : Number(seedRaw),
    bug: bug === null ? null : (bug as BugName),
    set: setFlag(flags),
    replay: stringOf(t, flags, 'replay'),
    system: systemFlag(t, flags),
    out,
    json: boolOf(flags, 'json'),
  };
}

/** `--system FILE`: loaded and validated now (a bad definition is refused before anything starts). */
function systemFlag(t: CommandTable, flags: RawValues): string | null {
  const file = stringOf(t, flags, 'system');
  if (file === null) return null;
  const path = resolve(file);
  loadSystem(path);
  return path;
}

/**
 * `--set key=value` (repeatable): each validated as the broker validates it (known Kafka-named key,
 * allowed value; the row's check), so a bad setting is refused before any node starts.
 */
function setFlag(flags: RawFlags): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of stringsOf(runTable, flags, 'set')) {
    const [k, v] = parseSetting(item);
    out[k] = v;
  }
  return out;
}

/** Parse argv by a command's table (unknown flags, bad values and stray positionals refused, one line each). */
export function parseFlags(argv: readonly string[], table: CommandTable): ParsedCommandLine {
  return parseCommandLine(table, argv);
}

/** `queue-acks1-kill`, `queue-acksall-kill+partition`, `queue-acks0-none`. */
export function testName(o: Pick<RunOptions, 'workload' | 'acks' | 'nemesis'>): string {
  return `${o.workload}-acks${o.acks}-${o.nemesis.length === 0 ? 'none' : o.nemesis.join('+')}`;
}

/**
 * The seconds flags of the run table and the millisecond option each is read into; the stored form
 * (test.json) keeps the flag's camelCase name and its seconds. The only seconds <-> ms mapping of the
 * run options: `validateRunFlags` reads these rows with `msOf`, `storedRunOptions` writes them back.
 */
export const runSecondsFlags = {
  'nemesis-interval': { option: 'nemesisIntervalMs', stored: 'nemesisInterval' },
  'time-limit': { option: 'timeLimitMs', stored: 'timeLimit' },
  'consumer-crash-interval': { option: 'consumerCrashIntervalMs', stored: 'consumerCrashInterval' },
  'commit-interval': { option: 'commitIntervalMs', stored: 'commitInterval' },
} as const satisfies Partial<Record<keyof typeof runFlags, { option: keyof RunOptions; stored: string }>>;

type SecondsRow = (typeof runSecondsFlags)[keyof typeof runSecondsFlags];

/**
 * The run options as they are stored for readers outside (test.json, campaign.json and hunt.json
 * `options`): every flag under its camelCase name in the flag's units, so a duration is in seconds.
 */
export type StoredRunOptions = Omit<RunOptions, SecondsRow['option']> & { [K in SecondsRow['stored']]: number };

/** `o` in its stored form (seconds under the flag names), keys in the order of `RunOptions`. */
export function storedRunOptions(o: RunOptions): StoredRunOptions {
  const byOption = new Map<string, string>(Object.values(runSecondsFlags).map((r) => [r.option, r.stored]));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    const stored = byOption.get(k);
    if (stored === undefined) out[k] = v;
    else out[stored] = (v as number) / msPerS;
  }
  return out as StoredRunOptions;
}

/**
 * Stored options (test.json's, as `storedRunOptions` wrote them) back as the run's raw flags, in the
 * flags' own units, for `validateRunFlags` to read again: the inverse of `storedRunOptions` up to
 * validation. Output-only flags (`out`, `json`) and `replay` are not carried over.
 */
export function storedAsFlags(stored: Record<string, unknown>): RawFlags {
  const flags: RawFlags = {};
  for (const key of Object.keys(runFlags)) {
    const camel = key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const v = stored[camel];
    if (key === 'out' || key === 'json' || key === 'replay' || v === undefined || v === null) continue;
    if (typeof v === 'boolean') {
      if (v) flags[key] = true;
    } else if (Array.isArray(v)) flags[key] = v.join(',');
    else if (key === 'set' && typeof v === 'object') flags[key] = Object.entries(v as Record<string, string>).map(([k, x]) => `${k}=${x}`);
    else flags[key] = String(v);
  }
  return flags;
}

/** The option part of test.json: every flag under its camelCase name and in its units, minus output-only flags. */
export function testOptions(o: RunOptions): Omit<StoredRunOptions, 'out' | 'json'> {
  const { out: _out, json: _json, ...rest } = storedRunOptions(o);
  return rest;
}

/** Kafka-named broker settings derived from the options, passed to every node (`--set k=v`). */
export function brokerSettings(o: RunOptions): Record<string, string> {
  return {
    ...harnessBrokerSettings(o),
    ...o.set,
  };
}

/**
 * Failure detection in about a second or three (broker session, ISR lag, Raft election and fetch
 * timeouts): every run's nodes get it, and so do the real-cluster fault tests. Followers retry fast and
 * give up on a silent leader within seconds, so ISRs recover soon after a fault heals (Kafka's 1 s
 * backoff and 30 s socket timeout would hide recovery behind waits).
 */
export const fastFailureDetection: Readonly<Record<string, string>> = {
  'broker.session.timeout.ms': '3000',
  'broker.heartbeat.interval.ms': '500',
  'replica.lag.time.max.ms': '3000',
  'controller.quorum.election.timeout.ms': '1000',
  'controller.quorum.fetch.timeout.ms': '2000',
  'replica.fetch.backoff.ms': '100',
};

function harnessBrokerSettings(o: RunOptions): Record<string, string> {
  return {
    'default.replication.factor': String(o.replicationFactor),
    'min.insync.replicas': String(o.minInsync),
    'unclean.leader.election.enable': String(o.uncleanElection),
    'num.partitions': String(o.partitions),
    'auto.create.topics.enable': 'false',
    ...fastFailureDetection,
    'group.min.session.timeout.ms': '1000',
    'replica.socket.timeout.ms': '5000',
  };
}
