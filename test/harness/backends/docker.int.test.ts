/**
 * The docker backend for real: containers from the image `faultline image build` makes, faults through
 * the engine and nsenter, a campaign through it, and cleanup after the harness is SIGKILLed. Needs a
 * docker engine (.ci/run installs and starts one); without it only the no-engine message is tested and
 * the rest is skipped, saying why. The no-engine test points DOCKER_HOST at a socket that does not exist.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { createDockerBackend } from '../../../harness/backends/docker/backend.ts';
import { dockerClient, pingEngine } from '../../../harness/backends/docker/engine.ts';
import { tryConnect } from '../../../harness/proc/net.ts';

const bin = resolve(import.meta.dirname, '..', '..', '..', 'bin', 'faultline.mjs');
const engineUp = await pingEngine(dockerClient(), 5_000).then(
  () => true,
  () => false,
);
if (!engineUp) process.stderr.write('docker.int.test: no docker engine answers; the container tests are skipped (.ci/run starts dockerd)\n');

/** every object on the engine that carries the run label with this value */
async function labelled(runId: string): Promise<string[]> {
  const docker = dockerClient();
  const filters = JSON.stringify({ label: [`faultline.run=${runId}`] });
  const c = (await docker.listContainers({ all: true, filters })).map((x) => `container ${x.Names[0]}`);
  const v = ((await docker.listVolumes({ filters })).Volumes ?? []).map((x) => `volume ${x.Name}`);
  const n = (await docker.listNetworks({ filters })).map((x) => `network ${x.Name}`);
  return [...c, ...v, ...n];
}

describe('docker backend', () => {
  it('without an engine, says in one line how to start one', async () => {
    const r = await execa(process.execPath, [bin, 'run', '--backend', 'docker', '--time-limit', '1'], { reject: false, timeout: 60_000, env: { DOCKER_HOST: 'unix:///nonexistent/docker.sock' } });
    expect(r.exitCode).toBe(2);
    const lines = r.stderr.split('\n').filter((l) => /docker engine/.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/no docker engine answers at \/nonexistent\/docker\.sock \(no socket\): start one as root with `dockerd &`/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it.skipIf(!engineUp)('kills, restarts, pauses, partitions inside each namespace, heals, collects and removes everything', { timeout: 180_000 }, async () => {
    const backend = await createDockerBackend({ log: () => {} });
    const workDir = mkdtempSync(join(tmpdir(), 'fl-int-docker-'));
    const runId = `dk${Date.now().toString(36)}`;
    try {
      const nodes = await backend.start({ nodes: 3, brokerSettings: {}, workDir, runId });
      expect(nodes.map((n) => n.kafkaAddress)).toHaveLength(3);
      const [n1, n2, n3] = nodes as [typeof nodes[0], typeof nodes[0], typeof nodes[0]];
      const host = (n: typeof n1): string => n.kafkaAddress.split(':')[0]!;
      await backend.partition({ n1: ['n2', 'n3'], n2: ['n1'] });
      expect((await backend.dropSources('n1')).sort()).toEqual([host(n2), host(n3)].sort());
      expect(await backend.dropSources('n2')).toEqual([host(n1)]);
      expect(await backend.dropSources('n3')).toEqual([]);
      // a restarted node gets a new namespace: the grudge in force goes into it again
      await backend.kill('n1');
      expect(await tryConnect(host(n1), 9092, 500)).toBe(false);
      await backend.heal();
      await backend.partition({ n1: ['n3'] });
      await backend.restart('n1').catch(() => undefined); // may not become ready while cut off from n3
      expect(await backend.dropSources('n1')).toEqual([host(n3)]);
      await backend.heal();
      expect(await backend.dropSources('n1')).toEqual([]);
      await backend.restart('n1');
      expect(await tryConnect(host(n1), 9092, 2_000)).toBe(true);
      await backend.pause('n2');
      const st = await dockerClient().getContainer(backend.containerIds()[1]!).inspect();
      const pid = st.State.Pid;
      const procState = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0];
      expect(st.State.Paused || procState === 'T').toBe(true);
      await backend.resume('n2');
      expect(await tryConnect(host(n2), 9092, 2_000)).toBe(true);
      const ex = await backend.exec('n3', ['/usr/local/bin/node', '-e', 'console.log(process.env.FAULTLINE_NODE)']);
      expect(ex).toMatchObject({ exitCode: 0, stdout: 'n3\n' });
      expect(await labelled(runId)).toHaveLength(7); // 3 containers, 3 volumes, 1 network
    } finally {
      await backend.stop();
    }
    expect(await labelled(runId)).toEqual([]);
    const c = await backend.collect('n1', join(workDir, 'n1'));
    expect(readdirSync(c.dataDir)).toContain('raft');
    expect(readFileSync(join(workDir, 'n1', 'broker.log'), 'utf8')).toMatch(/broker 1 listening on/);
    expect(readFileSync(join(workDir, 'n1', 'data-listing.txt'), 'utf8')).toMatch(/raft\/raft-log\.bin/);
  });

  it.skipIf(!engineUp)('campaign --backend docker --acks 1,all x kill-leader,partition-leader,pause-leader: the local table, acks=all valid', { timeout: 600_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-int-docker-campaign-'));
    const r = await execa(
      process.execPath,
      [bin, 'campaign', '--backend', 'docker', '--acks', '1,all', '--nemesis', 'kill-leader,partition-leader,pause-leader', '--nemesis-interval', '1.5',
        '--time-limit', '5', '--concurrency', '2', '--consumers', '1', '--seed', '13', '--gate', '--json', '--out', out],
      { reject: false, timeout: 580_000 },
    );
    const summary = JSON.parse(r.stdout.trim()) as { exitCode: number; runs: Array<{ acks: string; nemesis: string | string[]; valid: unknown; runDir: string; acked: number }> };
    expect(r.stderr).toMatch(/acks\s+nemesis\s+runs\s+valid/);
    expect(summary.runs).toHaveLength(6);
    for (const run of summary.runs) {
      expect(run.acked).toBeGreaterThan(0);
      if (run.acks === 'all') expect({ dir: run.runDir, valid: run.valid }).toEqual({ dir: run.runDir, valid: true });
      const test = JSON.parse(readFileSync(join(run.runDir, 'test.json'), 'utf8')) as { backend: string };
      expect(test.backend).toBe('docker');
      // every fault really happened, without an error
      const nemesisOps = readFileSync(join(run.runDir, 'history.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"process":"nemesis"')).map((l) => JSON.parse(l) as { f: string; value: { error?: string } });
      const fault = String(run.nemesis).split('-')[0]!;
      expect(nemesisOps.filter((o) => o.f === fault).length).toBeGreaterThan(0);
      expect(nemesisOps.filter((o) => o.value?.error !== undefined)).toEqual([]);
      expect(existsSync(join(run.runDir, 'nodes', 'n1', 'data-listing.txt'))).toBe(true);
      expect(readFileSync(join(run.runDir, 'nodes', 'n1', 'broker.log'), 'utf8')).toMatch(/listening on 10\.209\./);
    }
    expect(r.exitCode).toBe(0);
  });

  it.skipIf(!engineUp)('after SIGKILL of the harness, cluster down removes every container, volume and network of the run', { timeout: 240_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-int-docker-kill-'));
    const child = execa(process.execPath, [bin, 'run', '--backend', 'docker', '--nemesis', 'none', '--time-limit', '120', '--out', out], { reject: false, timeout: 200_000 });
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const deadline = Date.now() + 150_000;
    while (!/load: /.test(stderr) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 200));
    expect(stderr).toMatch(/load: /);
    const filters = JSON.stringify({ label: [`faultline.owner-pid=${child.pid}`] });
    const containers = await dockerClient().listContainers({ all: true, filters });
    expect(containers).toHaveLength(3);
    const runId = containers[0]!.Labels['faultline.run']!;
    child.kill('SIGKILL');
    await child;
    expect((await labelled(runId)).length).toBeGreaterThanOrEqual(7); // SIGKILL: nothing ran to remove them
    const down = await execa(process.execPath, [bin, 'cluster', 'down', '--dir', join(out, 'no-cluster')], { reject: false, timeout: 120_000 });
    expect(down.exitCode).toBe(0);
    expect(down.stdout).toMatch(new RegExp(`cleaned leftovers of .*${runId}`));
    expect(await labelled(runId)).toEqual([]);
  });
});
