/**
 * The real dependencies of `runTest`: the local backend, the nemesis package, the registered workload
 * built on kafkajs, the workload's checker and the HTML report. Kept apart from run.ts so orchestration
 * is tested with fakes and this file is exercised by the integration tests.
 */
import type { Backend } from '../backend.ts';
import { createLocalBackend } from '../backends/local.ts';
import { renderReport } from '../report/html.ts';
import { workloadCheckers, workloads } from '../../workloads/index.ts';
import { queueTimeouts } from '../../workloads/queue.ts';
import type { RunOptions } from './options.ts';
import type { RunDeps, StartNemesis } from './run.ts';
import { versions } from './versions.ts';

export function realDeps(o: RunOptions, signal: AbortSignal, log: (msg: string) => void, startNemesis: StartNemesis): RunDeps {
  return {
    createBackend: async (opts): Promise<Backend> => {
      if (opts.backend !== 'local') throw new Error(`backend ${opts.backend} is not available in this build; allowed: local`);
      return createLocalBackend();
    },
    startNemesis,
    createWorkload: (a) =>
      workloads[o.workload](
        {
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
          consumers: Math.min(2, o.partitions),
          runId: a.runId,
          ...queueTimeouts,
          log: a.log,
        },
        a.history,
        a.rng,
      ),
    check: (history, test) => workloadCheckers[o.workload](history, test),
    renderReport,
    versions: versions(),
    log,
    signal,
  };
}
