/**
 * `faultline cluster up|down|status [--backend local|docker] [--system FILE] [--nodes N] [--dir DIR] [--json]`: a cluster to
 * explore by hand.
 *
 * - `up` starts a detached supervisor process (`cluster __supervise`, not for direct use) that runs the
 *   local backend and stays up; it writes `<DIR>/cluster.json` once every node accepts connections, and
 *   `up` prints the bootstrap addresses. Brokers die with the supervisor (FAULTLINE_PARENT_PID).
 * - `status` prints the nodes (address, pid, running/paused/down) and the roles the cluster reports.
 * - `down` sends SIGTERM to the supervisor, which stops every node and removes namespaces, bridge and
 *   rules; if it does not exit within a bound it is SIGKILLed and `cleanupLeftovers()` removes the rest.
 * One cluster per DIR (default results/cluster). Every wait is bounded.
 * `--broker-command JSON` (an argv array) replaces `node bin/faultline.mjs broker`, for tests and for
 * other Kafka-compatible brokers that take the same flags.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { canPartition, type BackendName, type NodeInfo, type Roles } from '../backend.ts';
import { backendNames, createBackend } from '../backends/registry.ts';
import { loadSystem } from '../backends/system.ts';
import { cleanupLeftovers } from '../backends/cleanup.ts';
import { fetchRolesByMajority, type ControllerDiscovery } from '../backends/roles.ts';
import { readState, statePath } from '../backends/state.ts';
import { UsageError } from '../errors.ts';
import { boolOf, helpText, intOf, parseCommandLine, stringOf } from '../../broker/flags.ts';
import type { CommandTable } from '../../broker/flags.ts';
import { isAlive, processState, signalGroup, waitForExit } from '../proc/process.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const upTimeoutMs = 120_000;
const downTimeoutMs = 30_000;

export interface ClusterFile {
  status: 'up' | 'failed';
  supervisorPid: number;
  runId: string;
  mode: 'netns' | 'loopback' | 'docker';
  backend?: BackendName;
  partitions: boolean;
  nodes: NodeInfo[];
  bootstrap: string[];
  /** how `status` finds the controller (the system definition's `roles.controller`); absent: metadata */
  controllerVia?: ControllerDiscovery;
  startedAt: string;
  error?: string;
}

interface ClusterArgs {
  action: 'up' | 'down' | 'status' | '__supervise';
  nodes: number;
  dir: string;
  json: boolean;
  brokerCommand: string[] | undefined;
  backend: BackendName;
  /** the system definition file (absolute), or undefined for Faultline's own broker */
  system: string | undefined;
}

function brokerCommandError(v: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    parsed = null;
  }
  return Array.isArray(parsed) && parsed.length > 0 && parsed.every((x) => typeof x === 'string')
    ? null
    : `must be a JSON array of strings, e.g. '["node","my-broker.mjs"]'; got ${v}`;
}

export const clusterTable: CommandTable = {
  command: 'faultline cluster',
  summary: 'start, stop or inspect a cluster to explore by hand (one cluster per --dir)',
  positionals: [{ name: 'ACTION', help: 'up starts it and prints the bootstrap addresses, down stops it and cleans up, status shows nodes and roles', required: true, values: ['up', 'down', 'status'] }],
  flags: {
    backend: { kind: { type: 'choice', values: backendNames }, default: 'local', help: 'cluster backend' },
    system: { kind: { type: 'string', allowed: 'a system definition file (systems/*.json)' }, metavar: 'FILE', default: null, defaultText: 'systems/faultline.json', help: 'system definition: what runs on each node and how' },
    nodes: { kind: { type: 'int', min: 1, max: 99 }, default: 3, help: 'broker nodes (up)' },
    dir: { kind: { type: 'string', allowed: 'a directory' }, metavar: 'DIR', default: 'results/cluster', help: "the cluster's directory (cluster.json, node logs)" },
    json: { kind: { type: 'boolean' }, help: 'print one JSON object on stdout' },
    'broker-command': { kind: { type: 'string', allowed: 'a JSON array of strings', check: brokerCommandError }, metavar: 'JSON_ARGV', default: null, help: 'the broker command instead of node bin/faultline.mjs broker, for other brokers that take the same flags' },
  },
};

export function parseClusterArgs(argv: string[]): ClusterArgs {
  const t = clusterTable;
  // `__supervise` is the detached supervisor's own entry, not for direct use (and not in the help)
  const supervise = argv[0] === '__supervise';
  const { values, positionals } = parseCommandLine(t, supervise ? ['up', ...argv.slice(1)] : argv);
  const brokerCommand = stringOf(t, values, 'broker-command');
  const system = stringOf(t, values, 'system');
  if (system !== null) loadSystem(resolve(system));
  return {
    action: supervise ? '__supervise' : (positionals[0] as ClusterArgs['action']),
    nodes: intOf(t, values, 'nodes'),
    dir: resolve(stringOf(t, values, 'dir') ?? join('results', 'cluster')),
    json: boolOf(values, 'json'),
    brokerCommand: brokerCommand === null ? undefined : (JSON.parse(brokerCommand) as string[]),
    backend: (stringOf(t, values, 'backend') ?? 'local') as BackendName,
    system: system === null ? undefined : resolve(system),
  };
}

const clusterFile = (dir: string): string => join(dir, 'cluster.json');

export function readClusterFile(dir: string): ClusterFile | null {
  try {
    return JSON.parse(readFileSync(clusterFile(dir), 'utf8')) as ClusterFile;
  } catch {
    return null;
  }
}

/** Written through a rename, so `up` and `status` never read a torn file. */
function writeClusterFile(dir: string, f: ClusterFile): void {
  mkdirSync(dir, { recursive: true });
  const tmp = `${clusterFile(dir)}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(f, null, 2) + '\n');
  renameSync(tmp, clusterFile(dir));
}

async function supervise(a: ClusterArgs): Promise<number> {
  const backend = await createBackend(a.backend);
  const runId = `cluster${process.pid}`;
  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await backend.stop().catch(() => {});
    const f = readClusterFile(a.dir);
    if (f !== null && f.supervisorPid === process.pid) rmSync(clusterFile(a.dir), { force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
  const mode: ClusterFile['mode'] = 'mode' in backend ? (backend as { mode: 'netns' | 'loopback' }).mode : 'docker';
  const system = a.system === undefined ? undefined : loadSystem(a.system);
  const base = {
    supervisorPid: process.pid,
    runId,
    mode,
    backend: a.backend,
    partitions: canPartition(backend),
    ...(system === undefined ? {} : { controllerVia: system.roles.controller }),
    startedAt: new Date().toISOString(),
  };
  try {
    const nodes = await backend.start({
      nodes: a.nodes,
      brokerSettings: {},
      workDir: join(a.dir, 'nodes'),
      runId,
      ...(a.brokerCommand === undefined ? {} : { brokerCommand: a.brokerCommand }),
      ...(system === undefined ? {} : { system }),
    });
    writeClusterFile(a.dir, { status: 'up', ...base, nodes, bootstrap: nodes.map((n) => n.kafkaAddress) });
  } catch (err) {
    writeClusterFile(a.dir, { status: 'failed', ...base, nodes: [], bootstrap: [], error: err instanceof Error ? err.message : String(err) });
    await backend.stop().catch(() => {});
    return 2;
  }
  // stay up until signalled; the interval keeps the event loop alive
  setInterval(() => {}, 60_000);
  await new Promise<never>(() => {});
  return 0;
}

async function up(a: ClusterArgs): Promise<number> {
  const existing = readClusterFile(a.dir);
  if (existing !== null && isAlive(existing.supervisorPid)) {
    throw new UsageError(`a cluster is already up in ${a.dir} (supervisor pid ${existing.supervisorPid}); run faultline cluster down --dir ${a.dir} first`);
  }
  rmSync(clusterFile(a.dir), { force: true });
  mkdirSync(a.dir, { recursive: true });
  const logPath = join(a.dir, 'supervisor.log');
  const logFd = openSync(logPath, 'a');
  const args = [join(repoRoot, 'bin', 'faultline.mjs'), 'cluster', '__supervise', '--nodes', String(a.nodes), '--dir', a.dir];
  if (a.brokerCommand !== undefined) args.push('--broker-command', JSON.stringify(a.brokerCommand));
  args.push('--backend', a.backend);
  if (a.system !== undefined) args.push('--system', a.system);
  let pid: number | undefined;
  try {
    const child = execa(process.execPath, args, { detached: true, cleanup: false, reject: false, stdin: 'ignore', stdout: logFd as 3, stderr: logFd as 3 });
    void child.catch(() => {});
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(logFd);
  }
  if (pid === undefined) throw new Error('could not start the cluster supervisor');
  const deadline = Date.now() + upTimeoutMs;
  for (;;) {
    const f = readClusterFile(a.dir);
    if (f !== null && f.supervisorPid === pid) {
      if (f.status === 'failed') {
        process.stderr.write(`faultline cluster: start failed: ${f.error ?? 'unknown error'}\n`);
        await waitForExit(pid, 10_000);
        return 2;
      }
      if (a.json) process.stdout.write(JSON.stringify(f) + '\n');
      else {
        process.stdout.write(`cluster up: ${f.nodes.length} nodes (${f.mode}${f.partitions ? ', partitions possible' : ''}), supervisor pid ${pid}\n`);
        for (const n of f.nodes) process.stdout.write(`  ${n.name}  kafka ${n.kafkaAddress}  controller ${n.controllerAddress}  log ${n.logFile}\n`);
        process.stdout.write(`bootstrap: ${f.bootstrap.join(',')}\n`);
        process.stdout.write(`stop it with: faultline cluster down --dir ${a.dir}\n`);
      }
      return 0;
    }
    if (!isAlive(pid)) {
      process.stderr.write(`faultline cluster: the supervisor exited before the cluster was up; ${logPath}:\n${readFileSync(logPath, 'utf8').slice(-2000)}\n`);
      return 2;
    }
    if (Date.now() > deadline) {
      signalGroup(pid, 'SIGTERM');
      await waitForExit(pid, downTimeoutMs);
      process.stderr.write(`faultline cluster: not up within ${upTimeoutMs} ms; see ${logPath}\n`);
      return 2;
    }
    await sleep(100);
  }
}

/** What dead runs left on a docker engine (nothing, when no engine answers: then nothing can be there). */
async function dockerLeftovers(): Promise<{ runs: string[]; removed: string[] }> {
  try {
    const { dockerClient, pingEngine } = await import('../backends/docker/engine.ts');
    const { cleanupDockerLeftovers } = await import('../backends/docker/cleanup.ts');
    const docker = dockerClient();
    await pingEngine(docker, 3_000);
    return await cleanupDockerLeftovers(docker);
  } catch {
    return { runs: [], removed: [] };
  }
}

async function cleanupAll(): Promise<{ runs: string[]; removed: string[] }> {
  const local = await cleanupLeftovers();
  const docker = await dockerLeftovers();
  return { runs: [...local.runs, ...docker.runs], removed: [...local.removed, ...docker.removed] };
}

async function down(a: ClusterArgs): Promise<number> {
  const f = readClusterFile(a.dir);
  if (f === null) {
    const report = await cleanupAll();
    process.stdout.write(`no cluster in ${a.dir}${report.runs.length > 0 ? `; cleaned leftovers of ${report.runs.join(', ')}` : ''}\n`);
    return 0;
  }
  if (isAlive(f.supervisorPid)) {
    process.kill(f.supervisorPid, 'SIGTERM');
    if (!(await waitForExit(f.supervisorPid, downTimeoutMs))) {
      process.stderr.write(`supervisor ${f.supervisorPid} did not stop within ${downTimeoutMs} ms; killing it and cleaning up\n`);
      signalGroup(f.supervisorPid, 'SIGKILL');
      await waitForExit(f.supervisorPid, 5_000);
    }
  }
  const report = await cleanupAll();
  rmSync(clusterFile(a.dir), { force: true });
  process.stdout.write(`cluster down (${f.nodes.length} nodes${report.removed.length > 0 ? `; also removed ${report.removed.join(', ')}` : ''})\n`);
  return 0;
}

function nodeStatus(pid: number | undefined): 'running' | 'paused' | 'down' {
  if (pid === undefined || !isAlive(pid)) return 'down';
  const s = processState(pid);
  return s === 'T' || s === 't' ? 'paused' : 'running';
}

async function status(a: ClusterArgs): Promise<number> {
  const f = readClusterFile(a.dir);
  if (f === null || f.status !== 'up') {
    if (a.json) process.stdout.write(JSON.stringify({ up: false, dir: a.dir }) + '\n');
    else process.stdout.write(`no cluster in ${a.dir}\n`);
    return 0;
  }
  const supervisorUp = isAlive(f.supervisorPid);
  const st = existsSync(statePath(f.runId)) ? readState(statePath(f.runId)) : null;
  const nodes = f.nodes.map((n) => ({ ...n, pid: st?.pids[n.name] ?? null, status: nodeStatus(st?.pids[n.name]) }));
  let roles: Roles | null = null;
  let rolesError: string | undefined;
  if (supervisorUp) {
    try {
      roles = await fetchRolesByMajority(f.bootstrap, undefined, f.controllerVia === undefined ? {} : { controllerVia: f.controllerVia });
    } catch (err) {
      rolesError = err instanceof Error ? err.message : String(err);
    }
  }
  if (a.json) {
    process.stdout.write(JSON.stringify({ up: supervisorUp, dir: a.dir, ...f, nodes, roles, ...(rolesError === undefined ? {} : { rolesError }) }) + '\n');
    return 0;
  }
  process.stdout.write(`cluster in ${a.dir}: supervisor pid ${f.supervisorPid} ${supervisorUp ? 'up' : 'GONE (run cluster down to clean up)'}; ${f.mode}\n`);
  for (const n of nodes) {
    const tags: string[] = [];
    if (roles?.controller === n.id) tags.push('controller');
    const leads = Object.entries(roles?.leaders ?? {}).filter(([, l]) => l === n.id).map(([k]) => k);
    if (leads.length > 0) tags.push(`leader of ${leads.length} partition${leads.length === 1 ? '' : 's'}`);
    process.stdout.write(`  ${n.name}  ${n.kafkaAddress.padEnd(21)} pid ${String(n.pid ?? '-').padEnd(7)} ${n.status.padEnd(8)} ${tags.join(', ')}\n`);
  }
  if (rolesError !== undefined) process.stdout.write(`roles: unknown (${rolesError})\n`);
  process.stdout.write(`bootstrap: ${f.bootstrap.join(',')}\n`);
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  if (parseCommandLine(clusterTable, argv[0] === '__supervise' ? ['up'] : argv).help) {
    process.stdout.write(`${helpText(clusterTable)}\n`);
    return 0;
  }
  const a = parseClusterArgs(argv);
  switch (a.action) {
    case 'up':
      return up(a);
    case 'down':
      return down(a);
    case 'status':
      return status(a);
    case '__supervise':
      return supervise(a);
  }
}
