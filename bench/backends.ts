/**
 * Cluster start-up by backend: `npx tsx bench/backends.ts [--backend local|docker] [--nodes 3] [--system FILE]`.
 *
 * Starts one cluster of `--nodes` nodes on the backend (the docker image is built first, outside
 * the timing, if it is not current), prints the milliseconds from `start()` until every node
 * accepts Kafka connections and the milliseconds `stop()` took (docker's includes collecting each
 * node's data out of its volume), then removes everything. Timed as a whole process from outside,
 * it also gives the harness's own start-up; run local and docker in turn to compare them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { BackendName } from '../harness/backend.ts';
import { createBackend } from '../harness/backends/registry.ts';
import { loadSystem } from '../harness/backends/system.ts';

const { values } = parseArgs({ options: { backend: { type: 'string', default: 'local' }, nodes: { type: 'string', default: '3' }, system: { type: 'string' } } });
const name = values.backend as BackendName;
if (name !== 'local' && name !== 'docker') throw new Error(`--backend must be local or docker, got ${values.backend}`);
if (name === 'docker') {
  const { dockerClient, pingEngine } = await import('../harness/backends/docker/engine.ts');
  const { ensureBrokerImage } = await import('../harness/backends/docker/image.ts');
  await pingEngine(dockerClient());
  await ensureBrokerImage(dockerClient());
}
const backend = await createBackend(name);
const workDir = mkdtempSync(join(tmpdir(), 'fl-bench-backends-'));
const t0 = performance.now();
try {
  await backend.start({
    nodes: Number(values.nodes),
    brokerSettings: {},
    workDir,
    runId: `bench${process.pid}`,
    ...(values.system === undefined ? {} : { system: loadSystem(values.system) }),
  });
  const upMs = performance.now() - t0;
  const t1 = performance.now();
  await backend.stop();
  process.stdout.write(`${name}: ${values.nodes} nodes up in ${upMs.toFixed(0)} ms, stopped in ${(performance.now() - t1).toFixed(0)} ms\n`);
} finally {
  await backend.stop();
  rmSync(workDir, { recursive: true, force: true });
}
