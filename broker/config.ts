/**
 * Broker settings, by their Kafka names, validated once at start (style.md item 8).
 *
 * Sources, later ones winning: defaults < `--config FILE` (Java-properties `key=value` lines, `#`
 * comments) < `--set key=value` flags. Unknown keys and bad values are refused with a message that
 * names the key, what was given and what is allowed. Defaults are Kafka's own except where noted:
 *
 * - `log.flush.interval.messages` / `log.flush.interval.ms`: Kafka's defaults (never / unset), so an
 *   append is only in the OS page cache when acknowledged: a process crash (SIGKILL) loses nothing the
 *   kernel has, a machine crash may lose the unflushed tail. Set `log.flush.interval.messages=1` to
 *   fsync every append before it is acknowledged.
 * - `offsets.topic.replication.factor` is capped at the number of registered brokers when the offsets
 *   topic is created (Kafka refuses instead), so a single node can host consumer groups.
 * - `group.initial.rebalance.delay.ms` defaults to 0 here (Kafka: 3000) so tests do not wait.
 * - `offsets.topic.num.partitions` defaults to 10 here (Kafka: 50).
 * - `controlled.shutdown.timeout.ms` (ours; Kafka's KRaft broker waits up to 5 minutes without a
 *   setting): how long a stopping broker waits for the controller to move its leaderships away
 *   (docs/controller.md). Default 5000.
 * - `metadata.log.max.record.bytes.between.snapshots` defaults to 1 MiB here (Kafka: 20 MiB), so a
 *   node's metadata log is snapshotted and compacted well before restarts get slow;
 *   `metadata.log.max.snapshot.interval.ms` is Kafka's (1 h): a snapshot at least that often when
 *   records arrived since the last one.
 * - Retention (`log.retention.ms`, `log.retention.bytes`, `log.retention.check.interval.ms`) and the
 *   compaction settings (`log.cleanup.policy`, `log.cleaner.delete.retention.ms`,
 *   `log.cleaner.backoff.ms`) have Kafka's defaults; `__consumer_offsets` is created with
 *   `cleanup.policy=compact` and `segment.bytes` = `offsets.topic.segment.bytes`, as Kafka does.
 */
import { nodeFileSystem } from './log/fs.ts';
import { z } from 'zod';

const LONG_MAX = Number.MAX_SAFE_INTEGER;

const int = (min: number, max = LONG_MAX) => z.coerce.number().int().min(min).max(max);
const bool = z.union([z.boolean(), z.enum(['true', 'false']).transform((s) => s === 'true')]);
/** Kafka's cleanup.policy: a list of `delete` and `compact`. */
const cleanupPolicy = z.enum(['delete', 'compact', 'compact,delete', 'delete,compact']);

/** Every setting the broker understands, with its default. */
export const brokerConfigSchema = z
  .object({
    'num.partitions': int(1, 100_000).default(1),
    'default.replication.factor': int(1, 32).default(1),
    'auto.create.topics.enable': bool.default(true),
    'delete.topic.enable': bool.default(true),
    'min.insync.replicas': int(1, 32).default(1),
    'unclean.leader.election.enable': bool.default(false),
    'message.max.bytes': int(64, 512 * 1024 * 1024).default(1_048_588),
    'socket.request.max.bytes': int(1024, 1024 * 1024 * 1024).default(104_857_600),
    'log.segment.bytes': int(1024, 2 ** 31 - 1).default(1_073_741_824),
    'log.index.interval.bytes': int(0, 2 ** 31 - 1).default(4096),
    'log.flush.interval.messages': int(1).default(LONG_MAX),
    'log.flush.interval.ms': z.union([z.null(), int(0)]).default(null),
    'log.flush.scheduler.interval.ms': int(1).default(LONG_MAX),
    'replica.lag.time.max.ms': int(1).default(30_000),
    'replica.fetch.wait.max.ms': int(0).default(500),
    'replica.fetch.min.bytes': int(1).default(1),
    'replica.fetch.max.bytes': int(1024).default(1_048_576),
    'replica.fetch.backoff.ms': int(0).default(1000),
    'replica.socket.timeout.ms': int(1).default(30_000),
    'replica.high.watermark.checkpoint.interval.ms': int(1).default(5000),
    'broker.heartbeat.interval.ms': int(1).default(2000),
    'broker.session.timeout.ms': int(1).default(9000),
    'controller.quorum.election.timeout.ms': int(1).default(1000),
    'controller.quorum.fetch.timeout.ms': int(1).default(2000),
    'controller.quorum.request.timeout.ms': int(1).default(2000),
    'controlled.shutdown.enable': bool.default(true),
    'controlled.shutdown.timeout.ms': int(0).default(5000),
    'auto.leader.rebalance.enable': bool.default(true),
    'leader.imbalance.check.interval.seconds': int(1).default(300),
    'group.initial.rebalance.delay.ms': int(0).default(0),
    'group.min.session.timeout.ms': int(1).default(6000),
    'group.max.session.timeout.ms': int(1).default(1_800_000),
    'offsets.topic.num.partitions': int(1, 1000).default(10),
    'offsets.topic.replication.factor': int(1, 32).default(3),
    'offsets.commit.timeout.ms': int(1).default(5000),
    'producer.id.expiration.ms': int(1).default(86_400_000),
    'metadata.log.max.record.bytes.between.snapshots': int(1).default(1_048_576),
    'metadata.log.max.snapshot.interval.ms': int(1).default(3_600_000),
    'log.retention.ms': int(-1).default(604_800_000),
    'log.retention.bytes': int(-1).default(-1),
    'log.retention.check.interval.ms': int(1).default(300_000),
    'log.cleanup.policy': cleanupPolicy.default('delete'),
    'log.cleaner.delete.retention.ms': int(0).default(86_400_000),
    'log.cleaner.backoff.ms': int(1).default(15_000),
    'offsets.topic.segment.bytes': int(1024, 2 ** 31 - 1).default(104_857_600),
  })
  .strict();

export type BrokerConfig = z.output<typeof brokerConfigSchema>;
export type BrokerConfigKey = keyof BrokerConfig;

export const brokerConfigKeys = Object.keys(brokerConfigSchema.shape) as BrokerConfigKey[];

/** Topic-level settings accepted by CreateTopics, each overriding the broker-level setting named. */
export const topicConfigKeys = {
  'min.insync.replicas': 'min.insync.replicas',
  'unclean.leader.election.enable': 'unclean.leader.election.enable',
  'segment.bytes': 'log.segment.bytes',
  'flush.messages': 'log.flush.interval.messages',
  'flush.ms': 'log.flush.interval.ms',
  'max.message.bytes': 'message.max.bytes',
  'retention.ms': 'log.retention.ms',
  'retention.bytes': 'log.retention.bytes',
  'cleanup.policy': 'log.cleanup.policy',
  'delete.retention.ms': 'log.cleaner.delete.retention.ms',
} as const satisfies Record<string, BrokerConfigKey>;

export type TopicConfigKey = keyof typeof topicConfigKeys;

export class ConfigError extends Error {
  readonly code = 'BROKER_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Parses Java-properties style text: `key=value` or `key: value` lines, `#`/`!` comments. */
export function parseProperties(text: string, source: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) return;
    const m = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(line);
    if (!m) throw new ConfigError(`${source}:${i + 1}: expected key=value, got '${line}'`);
    out[m[1]!] = m[2]!.trim();
  });
  return out;
}

/** Parses one `--set key=value`. */
export function parseSetting(s: string): [string, string] {
  const eq = s.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--set expects key=value, got '${s}'`);
  return [s.slice(0, eq).trim(), s.slice(eq + 1).trim()];
}

/** Validates raw string settings into a typed config; errors name the key and what is allowed. */
export function buildConfig(raw: Record<string, string | number | boolean | null>): BrokerConfig {
  for (const key of Object.keys(raw)) {
    if (!Object.hasOwn(brokerConfigSchema.shape, key)) {
      throw new ConfigError(`unknown setting '${key}'; known settings: ${brokerConfigKeys.join(', ')}`);
    }
  }
  const result = brokerConfigSchema.safeParse(raw);
  if (!result.success) {
    const msgs = result.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      return `setting '${key}' = '${String(raw[key])}': ${describeIssue(issue)}`;
    });
    throw new ConfigError(msgs.join('; '));
  }
  return result.data;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'too_small':
      return `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      return `must be at most ${String(issue.maximum)}`;
    case 'invalid_type':
      return `must be ${issue.expected === 'number' ? 'an integer' : issue.expected}`;
    case 'invalid_union':
      return 'must be true or false (or an integer where a number is expected)';
    default:
      return issue.message;
  }
}

/** Loads defaults < file < --set, as the broker's command line gives them. */
export function loadConfig(opts: { file?: string | undefined; sets?: string[] }): BrokerConfig {
  const raw: Record<string, string> = {};
  if (opts.file !== undefined) {
    let text: string;
    try {
      text = nodeFileSystem.readFile(opts.file).toString('utf8');
    } catch (err) {
      throw new ConfigError(`cannot read --config ${opts.file}: ${(err as Error).message}`);
    }
    Object.assign(raw, parseProperties(text, opts.file));
  }
  for (const s of opts.sets ?? []) {
    const [k, v] = parseSetting(s);
    raw[k] = v;
  }
  return buildConfig(raw);
}

/** Validates topic-level configs from CreateTopics; returns an error message or null. */
export function validateTopicConfigs(configs: Record<string, string>): string | null {
  for (const [k, v] of Object.entries(configs)) {
    if (!Object.hasOwn(topicConfigKeys, k)) {
      return `unsupported topic config '${k}'; supported: ${Object.keys(topicConfigKeys).join(', ')}`;
    }
    const brokerKey = topicConfigKeys[k as TopicConfigKey];
    const r = brokerConfigSchema.shape[brokerKey].safeParse(v);
    if (!r.success) return `topic config '${k}' = '${v}' is invalid`;
  }
  return null;
}

/** The effective value of a topic-overridable setting. */
export function topicSetting<K extends TopicConfigKey>(
  config: BrokerConfig,
  topicConfigs: Record<string, string> | undefined,
  key: K,
): BrokerConfig[(typeof topicConfigKeys)[K]] {
  const brokerKey = topicConfigKeys[key];
  const override = topicConfigs?.[key];
  if (override === undefined) return config[brokerKey];
  return brokerConfigSchema.shape[brokerKey].parse(override) as BrokerConfig[(typeof topicConfigKeys)[K]];
}
