/**
 * The planted-bug catalogue (design.md "CLI": `faultline broker --bug NAME`): realistic defects a
 * broker engineer could write, each planted as ONE line at the one place the mistake would be made
 * (`if (bugActive('x')) ...` or a ternary), so the harness can be measured against known-bad brokers
 * (`faultline hunt`). docs/bugs.md tells what each breaks and which faults catch it.
 *
 * Invariants:
 * - No bug is active unless the broker was started with `--bug NAME`: `plantBug` is called once, at
 *   startup, from the parsed command line; `bugActive` is false for every name until then.
 * - At most one bug is active per process.
 * - An unknown name is a usage error that lists the allowed names (`BugUsageError`).
 *
 * Each entry: `breaks` (the guarantee it violates), `where` (file and function of the plant), and
 * `anomalies` (the history anomalies it is expected to show, design.md "results.json").
 */

export const bugs = {
  'ack-before-replication': {
    breaks: 'acks=all is answered after the leader\'s local append, before the ISR has the batch',
    where: 'broker/replica-manager.ts produce()',
    anomalies: ['lost-write', 'unseen'],
  },
  'hw-counts-sent-records': {
    breaks: 'the leader counts records as replicated when it sends them to a follower, not when the follower\'s next fetch offset acknowledges them; the HW runs ahead of the ISR',
    where: 'broker/replica-manager.ts readPartition()',
    anomalies: ['lost-write', 'unseen', 'inconsistent-offsets'],
  },
  'hw-ignores-min-insync': {
    breaks: 'the high watermark advances while the ISR is below min.insync.replicas (KAFKA-15583): an acks=all batch is acknowledged with a single copy',
    where: 'broker/replication/leader.ts #maybeAdvanceHw()',
    anomalies: ['lost-write', 'unseen'],
  },
  'truncate-to-hw': {
    breaks: 'a replica that becomes a follower truncates to its own high watermark (pre-KIP-101) instead of by leader epoch: acknowledged records it held are dropped, and lost if it is elected before it refetches them',
    where: 'broker/replica-manager.ts becomeFollower()',
    anomalies: ['lost-write', 'unseen', 'inconsistent-offsets'],
  },
  'elect-outside-isr': {
    breaks: 'the controller elects the first live replica, in the ISR or not, with unclean election off',
    where: 'broker/controller/controller.ts #elect()',
    anomalies: ['lost-write', 'unseen', 'inconsistent-offsets'],
  },
  'epoch-not-bumped': {
    breaks: 'a leader change keeps the leader epoch: the new and the old leader write in the same epoch, so divergence goes undetected and stale leaders are not fenced',
    where: 'broker/controller/image.ts PartitionChange',
    anomalies: ['inconsistent-offsets', 'lost-write', 'nonmonotonic-poll'],
  },
  'isr-join-below-hw': {
    breaks: 'a follower joins the ISR on its first fetch, before its log reaches the high watermark; elected, it lacks acknowledged records',
    where: 'broker/replication/leader.ts #maybeExpandIsr()',
    anomalies: ['lost-write', 'unseen'],
  },
  'consumer-reads-past-hw': {
    breaks: 'consumer fetches read up to the log end instead of the high watermark: they see records that a failover later truncates',
    where: 'broker/replica-manager.ts readPartition()',
    anomalies: ['inconsistent-offsets', 'aborted-read', 'nonmonotonic-poll'],
  },
  'new-leader-hw-at-leo': {
    breaks: 'a new leader starts its high watermark at its own log end: its uncommitted suffix is exposed to consumers and counted as committed',
    where: 'broker/replica-manager.ts becomeLeader()',
    anomalies: ['inconsistent-offsets', 'aborted-read', 'lost-write'],
  },
  'divergence-epoch-only': {
    breaks: 'the leader\'s divergence check on a follower fetch compares epochs only, not the epoch\'s end offset: a follower keeps a divergent suffix written in the same epoch',
    where: 'broker/replication/follower.ts divergingEpoch()',
    anomalies: ['inconsistent-offsets', 'lost-write'],
  },
  'idempotent-replay-appended': {
    breaks: 'idempotent duplicate detection only checks for gaps: a replayed sequence at or below the last one is appended again',
    where: 'broker/log/producer-state.ts check()',
    anomalies: ['duplicate', 'nonmonotonic-send'],
  },
  'offsets-acks-1': {
    breaks: 'the group coordinator writes committed offsets with acks=1: a commit acknowledged to the consumer can be lost on coordinator failover, and the group re-reads',
    where: 'broker/node.ts offsetLog.append',
    anomalies: [],
  },
  'flush-skipped': {
    breaks: 'log.flush.interval.messages=1 never fsyncs on append: acknowledged records are lost by a power failure of the nodes holding them',
    where: 'broker/log/partition-log.ts #write()',
    anomalies: ['lost-write', 'unseen'],
  },
} as const satisfies Record<string, { breaks: string; where: string; anomalies: readonly string[] }>;

export type BugName = keyof typeof bugs;

export const bugNames = Object.keys(bugs) as BugName[];

export class BugUsageError extends Error {
  readonly code = 'BUG_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'BugUsageError';
  }
}

/** Validates a `--bug` value: a catalogue name, else a usage error listing the allowed names. */
export function parseBugName(name: string): BugName {
  if (!Object.hasOwn(bugs, name)) throw new BugUsageError(`--bug '${name}' is not in the planted-bug catalogue; allowed: ${bugNames.join(', ')}`);
  return name as BugName;
}

let active: BugName | null = null;

/** Called once at startup with the `--bug` flag (undefined: no bug, the default). */
export function plantBug(name: string | undefined | null): void {
  active = name === undefined || name === null ? null : parseBugName(name);
}

/** The planted bug, or null (the default: the clean broker). */
export function activeBug(): BugName | null {
  return active;
}

/** True only when the broker was started with `--bug name`. The one check every plant uses. */
export function bugActive(name: BugName): boolean {
  return active === name;
}
