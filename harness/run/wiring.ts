/**
 * The real dependencies of `runTest`: the backend of the registry that `--backend` names, the nemesis package, the registered workload
 * built on kafkajs, the workload's checker and the HTML report. Kept apart from run.ts so orchestration
 * is tested with fakes and this file is exercised by the integration tests.
 */
import type { Backend } from '../backend.ts';
import { createBackend } from '../backends/registry.ts';
import { renderReport } from '../report/html.ts';
import { workloadCheckers, workloads } from '../../workloads/index.ts';
import { queueTimeouts } from '../../workloads/queue.ts';
import type { QueueOptions } from '../../workloads/queue.ts';
import type { RunOptions } from './options.ts';
import type { RunDeps, StartNemesis, WorkloadArgs } from './run.ts';
import { versions } from './versions.ts';

/** The workload's options for one run: the run flags, the cluster's addresses and the client timeouts. */
export function queueOptions(o: RunOptions, a: WorkloadArgs): QueueOptions {
  return {
    brokers: a.brokers,
    topic: a.topic,
    partitions: o.partitions,
    replicationFactor: o.replicationFactor,
    minInsync: o.minInsync,
    uncleanElection: o.uncleanElection,
    acks: o.acks,
    idempotence: o.idempotence,
    retries: o.retries,
    concurrency: o.concurrency,
    consumers: o.consumers,
    consumerMode: o.consumerMode,
    consumerCrashIntervalMs: o.consumerCrashIntervalMs,
    commitIntervalMs: o.commitIntervalMs,
    runId: a.runId,
    ...queueTimeouts,
    log: a.log,
  };
}

export function realDeps(o: RunOptions, signal: AbortSignal, log: (msg: string) => void, startNemesis: StartNemesis): RunDeps {
  return {
    createBackend: async (opts): Promise<Backend> => createBackend(opts.backend),
    startNemesis,
    createWorkload: (a) => workloads[o.workload](queueOptions(o, a), a.history, a.rng),
    check: (history, test) => workloadCheckers[o.workload](history, test),
    renderReport,
    versions: versions(),
    log,
    signal,
  };
}
