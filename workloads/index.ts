/**
 * The workload registry (style.md item 2): its keys are the values `--workload` allows. Each entry
 * builds a workload object `{ client, generator, finalGenerator, checker }` from options;
 * `workloadCheckers` gives each workload's checker without building a client (`faultline check`).
 */
import { log, logChecker } from './log.ts';
import { queue, queueChecker } from './queue.ts';

export const workloads = { queue, log } as const;

export type WorkloadName = keyof typeof workloads;

export const workloadCheckers = { queue: queueChecker, log: logChecker } as const satisfies Record<WorkloadName, unknown>;
