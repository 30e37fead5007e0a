/**
 * The `docker` backend: one container per node, driven through dockerode.
 *
 * Layout of a run (every object labelled `faultline.run=<runId>` plus its owner's pid and start time):
 * - a bridge network `fl-<runId>` on 10.209.<i>.0/24 (i claimed as the local backend claims its
 *   subnets), node k at 10.209.<i>.<10+k>, so addresses (and the voters list) are known before any
 *   container starts; the harness reaches the nodes from the host through the bridge's gateway;
 * - per node a volume `fl-<runId>-<node>` mounted at the system's `dataDir`, and a container
 *   `fl-<runId>-<node>` from the system's image (Faultline's own: `faultline image build`, built on
 *   demand), command and environment rendered from the system definition (system.ts), config files
 *   copied in before the first start;
 * - each container's output streamed (attached before every start, so nothing is read twice) into
 *   `<workDir>/<node>/broker.log`.
 *
 * Faults: kill = `docker kill` (SIGKILL) and restart = start the same container again (its volume
 * intact); stop = `docker stop` (SIGTERM, then SIGKILL after the grace); pause/resume = `docker
 * pause`/`unpause` (the cgroup freezer). Partitions, packet loss and bandwidth limits are the local
 * backend's rules (netns.ts: INPUT DROP per source address, `-m statistic`, tc htb) run inside each
 * container's network namespace with `nsenter -t <pid> -n` from the host. A container gets a new
 * namespace on every start, so the grudge in force is applied again to a node that restarts.
 * power-loss is not offered: it needs a FUSE layer under the data dir inside the container.
 *
 * Cleanup is total: `stop()` (and a failed `start()`) first collects every node into `<workDir>/<node>`
 * (logs, data, listing; the containers go away with it), then removes containers, volumes and the
 * network; process exit removes them synchronously with the docker CLI (best effort); and every start
 * and `faultline cluster down` remove whatever carries the label of a run whose owner is dead
 * (`cleanupDockerLeftovers`), which covers SIGKILL of the harness.
 */
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import type Docker from 'dockerode';
import tar from 'tar-fs';
import type {
  Backend,
  ClusterSpec,
  Collected,
  ExecResult,
  Grudge,
  LinkDegradation,
  LinkDegrader,
  LinkScope,
  NodeAccess,
  NodeInfo,
  NodeStopper,
  Partitioner,
} from '../../backend.ts';
import { collectLocalFiles } from '../collect.ts';
import { bandwidthCommands, claimSubnet, grudgeRules, packetLossRules, releaseSubnet, type NetworkPlan } from '../netns.ts';
import { processStartTicks } from '../state.ts';
import { defaultSystem, renderLaunch, SystemError, type NodeContext, type SystemDefinition } from '../system.ts';
import { hasExecutable, runCommand, runCommandSync } from '../../proc/exec.ts';
import { waitForPort } from '../../proc/net.ts';
import { withDeadline } from '../../util/time.ts';
import { cleanupDockerLeftovers, labels } from './cleanup.ts';
import { dockerClient, pingEngine } from './engine.ts';
import { ensureBrokerImage, imageExists } from './image.ts';

const callTimeoutMs = 30_000;
const stopGraceS = 3;
const stopNodeGraceS = 10;
const iptablesWaitS = '5';

interface NodeRuntime {
  info: NodeInfo;
  container: Docker.Container;
  /** the host pid of the container's first process while it runs (for nsenter), else null */
  pid: number | null;
  running: boolean;
  log: WriteStream | null;
  /** how the node is paused now (docker pause, or SIGSTOP when the freezer fails), or null */
  paused: 'freezer' | 'signal' | null;
  /** the system's log files inside the container (collected besides the output stream) */
  extraLogs: string[];
}

const liveBackends = new Set<DockerBackend>();
let handlersInstalled = false;

function installHandlersOnce(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const onSignal = (signal: NodeJS.Signals, code: number): void => {
    // the run orchestrator handles it (stops clients, then the backend); 'exit' below is the backstop
    if (process.listenerCount(signal) > 1) return;
    const bound = new Promise<void>((r) => setTimeout(r, 30_000).unref());
    void Promise.race([Promise.allSettled([...liveBackends].map((b) => b.stop())), bound]).then(() => process.exit(code));
  };
  process.on('SIGINT', () => onSignal('SIGINT', 130));
  process.on('SIGTERM', () => onSignal('SIGTERM', 143));
  process.on('exit', () => {
    for (const b of liveBackends) b.stopSync();
  });
}

function call<T>(p: Promise<T>, what: string, timeoutMs = callTimeoutMs): Promise<T> {
  return withDeadline(p, timeoutMs, `docker: ${what}`);
}

/** The image a system runs: Faultline's own is built here on demand; any other must already be on the engine. */
async function imageFor(docker: Docker, system: SystemDefinition, log: (m: string) => void): Promise<string> {
  const d = system.docker;
  if (d === undefined) throw new SystemError(`system '${system.name}' has no "docker" image; run it with --backend local`);
  if (d.build === 'faultline') return (await ensureBrokerImage(docker, log)).ref;
  if (await imageExists(docker, d.image)) return d.image;
  throw new SystemError(
    `image ${d.image} of system '${system.name}' is not on this docker engine, and this harness never pulls: run \`docker pull ${d.image}\` where a registry is reachable (or \`docker load\` a saved copy)${system.testedHere ? '' : `; the ${system.name} definition is untested here (no registry on this project's machines)`}`,
  );
}

export class DockerBackend implements Backend, NodeStopper, Partitioner, LinkDegrader, NodeAccess {
  readonly name = 'docker' as const;
  readonly limitations: string[] = [];
  /** what power-loss lacks in containers (PowerLosser is not implemented: see the module docstring) */
  readonly linkDegradations: ReadonlyArray<LinkDegradation['kind']>;
  private spec: ClusterSpec | null = null;
  private system: SystemDefinition | null = null;
  private network: Docker.Network | null = null;
  private subnetIndex: number | null = null;
  private plan: NetworkPlan | null = null;
  private readonly runtimes = new Map<string, NodeRuntime>();
  private readonly volumes: string[] = [];
  private grudge: { grudge: Grudge; scope: LinkScope } | null = null;
  private degradation: LinkDegradation | null = null;
  private stopping: Promise<void> | null = null;
  private readonly log: (m: string) => void;

  private readonly docker: Docker;

  constructor(docker: Docker, opts: { tc: boolean; log?: (m: string) => void }) {
    this.docker = docker;
    this.linkDegradations = opts.tc ? ['packet-loss', 'bandwidth'] : ['packet-loss'];
    this.log = opts.log ?? ((m) => process.stderr.write(`${m}\n`));
  }

  nodes(): NodeInfo[] {
    return [...this.runtimes.values()].map((r) => ({ ...r.info }));
  }

  /** The container ids of the run (for status displays and tests). */
  containerIds(): string[] {
    return [...this.runtimes.values()].map((r) => r.container.id);
  }

  private assertNotStopped(action: string): void {
    if (this.stopping !== null) throw new Error(`docker backend is stopped: cannot ${action}`);
  }

  private runtime(node: string): NodeRuntime {
    const r = this.runtimes.get(node);
    if (r === undefined) throw new Error(`unknown node '${node}'; nodes are ${[...this.runtimes.keys()].join(', ') || '(none: not started)'}`);
    return r;
  }

  async start(spec: ClusterSpec): Promise<NodeInfo[]> {
    if (this.spec !== null) throw new Error('docker backend: start() called twice; one backend object runs one cluster');
    if (!Number.isInteger(spec.nodes) || spec.nodes < 1 || spec.nodes > 99) throw new RangeError(`nodes must be 1..99, got ${spec.nodes}`);
    if (spec.powerLoss === true) throw new SystemError('power-loss faults are not offered by the docker backend (they need a FUSE layer under the data dir inside each container); use --backend local');
    if (spec.brokerCommand !== undefined) throw new SystemError('the docker backend takes no broker command; give a system definition (--system) with a docker image');
    this.spec = spec;
    const system = spec.system ?? defaultSystem();
    this.system = system;
    await cleanupDockerLeftovers(this.docker);
    installHandlersOnce();
    liveBackends.add(this);
    try {
      const image = await imageFor(this.docker, system, this.log);
      await this.prepare(spec, system, image);
      await Promise.all([...this.runtimes.values()].map((r) => this.startNode(r)));
      return this.nodes();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private async prepare(spec: ClusterSpec, system: SystemDefinition, image: string): Promise<void> {
    const runLabels = labels(spec.runId, process.pid, processStartTicks(process.pid));
    this.subnetIndex = await claimSubnet(spec.runId);
    const prefix = `10.209.${this.subnetIndex}`;
    const netName = `fl-${spec.runId}`;
    this.network = await call(
      this.docker.createNetwork({
        Name: netName,
        Driver: 'bridge',
        Labels: runLabels,
        IPAM: { Driver: 'default', Config: [{ Subnet: `${prefix}.0/24`, Gateway: `${prefix}.1` }] },
        CheckDuplicate: true,
      }),
      `creating network ${netName}`,
    );
    const cluster = Array.from({ length: spec.nodes }, (_, k) => ({ host: `${prefix}.${11 + k}`, kafkaPort: system.ports.kafka, controllerPort: system.ports.controller }));
    this.plan = {
      subnetIndex: this.subnetIndex,
      bridge: netName,
      bridgeAddress: `${prefix}.1`,
      nodes: cluster.map((a, k) => ({ node: `n${k + 1}`, index: k + 1, namespace: `n${k + 1}`, vethHost: '', vethPeer: '', address: a.host })),
      controllerPort: system.ports.controller,
    };
    for (let k = 1; k <= spec.nodes; k++) {
      const name = `n${k}`;
      const nodeDir = join(spec.workDir, name);
      mkdirSync(nodeDir, { recursive: true });
      const ctx: NodeContext = { id: k, node: name, runId: spec.runId, cluster, dataDir: system.dataDir, nodeDir: '/faultline', settings: spec.brokerSettings, ...(spec.bug === undefined ? {} : { bug: spec.bug }) };
      const launch = renderLaunch(system, ctx);
      const volume = `fl-${spec.runId}-${name}`;
      await call(this.docker.createVolume({ Name: volume, Labels: runLabels }), `creating volume ${volume}`);
      this.volumes.push(volume);
      const command = system.docker?.command ?? [];
      const cmd = [...command, ...launch.args];
      const container = await call(
        this.docker.createContainer({
          name: `fl-${spec.runId}-${name}`,
          Image: image,
          ...(cmd.length > 0 ? { Cmd: cmd } : {}),
          ...(system.docker?.user === undefined ? {} : { User: system.docker.user }),
          Env: Object.entries({ ...launch.env, FAULTLINE_RUN_ID: spec.runId, FAULTLINE_NODE: name }).map(([key, v]) => `${key}=${v}`),
          Labels: { ...runLabels, 'faultline.node': name },
          StopTimeout: stopGraceS,
          HostConfig: {
            NetworkMode: netName,
            Mounts: [{ Type: 'volume', Source: volume, Target: system.dataDir }],
          },
          NetworkingConfig: { EndpointsConfig: { [netName]: { IPAMConfig: { IPv4Address: cluster[k - 1]!.host } } } },
        }),
        `creating container for ${name}`,
      );
      if (launch.files.length > 0) await this.copyFiles(container, launch.files);
      const a = cluster[k - 1]!;
      const info: NodeInfo = {
        name,
        id: k,
        kafkaAddress: `${a.host}:${a.kafkaPort}`,
        controllerAddress: `${a.host}:${a.controllerPort}`,
        dataDir: system.dataDir,
        logFile: join(nodeDir, 'broker.log'),
      };
      this.runtimes.set(name, { info, container, pid: null, running: false, paused: null, log: null, extraLogs: launch.logFiles });
    }
  }

  /** Config files into a created container (before its first start). */
  private async copyFiles(container: Docker.Container, files: Array<{ path: string; content: string }>): Promise<void> {
    const root = mkdtempSync(join(tmpdir(), 'faultline-files-'));
    try {
      for (const f of files) {
        const target = join(root, f.path);
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, f.content);
      }
      await call(container.putArchive(tar.pack(root) as unknown as NodeJS.ReadableStream, { path: '/' }), 'copying config files');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }

  /** Attach the log stream, start, learn the pid, re-apply the grudge, wait for readiness. */
  private async startNode(r: NodeRuntime): Promise<void> {
    const system = this.system!;
    const stream = (await call(r.container.attach({ stream: true, stdout: true, stderr: true, logs: false }), `attaching to ${r.info.name}`)) as NodeJS.ReadableStream;
    r.log?.end();
    const out = createWriteStream(r.info.logFile, { flags: 'a' });
    r.log = out;
    this.docker.modem.demuxStream(stream, out, out);
    await call(r.container.start(), `starting ${r.info.name}`);
    const st = await call(r.container.inspect(), `inspecting ${r.info.name}`);
    r.pid = st.State.Pid > 0 ? st.State.Pid : null;
    r.running = st.State.Running;
    if (this.grudge !== null || this.degradation !== null) await this.applyNetworkTo([r.info.name]);
    const address = system.readiness.port === 'kafka' ? r.info.kafkaAddress : r.info.controllerAddress;
    const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
    const timeoutMs = this.spec?.startTimeoutMs ?? system.readiness.timeoutMs;
    let exited = false;
    const watch = setInterval(() => {
      void r.container.inspect().then(
        (s) => {
          exited = !s.State.Running;
        },
        () => {},
      );
    }, 500);
    try {
      const result = await waitForPort(host, port, { timeoutMs, shouldGiveUp: () => exited });
      if (result !== 'up') {
        const why = result === 'gave-up' ? 'exited before accepting connections' : `did not accept connections within ${timeoutMs} ms`;
        throw new Error(`node ${r.info.name} (${address}) ${why}; log tail:\n${(await this.logs(r.info.name, 2_000)).trim()}`);
      }
    } finally {
      clearInterval(watch);
    }
  }

  async kill(node: string): Promise<void> {
    this.assertNotStopped(`kill ${node}`);
    const r = this.runtime(node);
    if (!r.running) return;
    await call(r.container.kill({ signal: 'SIGKILL' }), `killing ${node}`).catch((err: unknown) => {
      if ((err as { statusCode?: number }).statusCode !== 409) throw err; // 409: not running any more
    });
    await call(r.container.wait({ condition: 'not-running' }), `waiting for ${node} to exit`, 10_000);
    r.running = false;
    r.pid = null;
    r.paused = null;
  }

  async stopNode(node: string): Promise<void> {
    this.assertNotStopped(`stop ${node}`);
    const r = this.runtime(node);
    if (!r.running) return;
    await call(r.container.stop({ t: stopNodeGraceS }), `stopping ${node}`, (stopNodeGraceS + 10) * 1000).catch((err: unknown) => {
      if ((err as { statusCode?: number }).statusCode !== 304) throw err; // 304: already stopped
    });
    r.running = false;
    r.pid = null;
    r.paused = null;
  }

  async restart(node: string): Promise<void> {
    this.assertNotStopped(`restart ${node}`);
    const r = this.runtime(node);
    if (r.running) {
      await call(r.container.stop({ t: stopGraceS }), `stopping ${node} for a restart`, (stopGraceS + 10) * 1000).catch(() => {});
      r.running = false;
    }
    await this.startNode(r);
  }

  /**
   * `docker pause` (the cgroup freezer). runc gives up freezing a cgroup that stays FREEZING (seen
   * here under heavy load: "unable to freeze"); then the node is stopped with SIGSTOP instead, which
   * is what the local backend's pause is, and resume undoes whichever was used.
   */
  async pause(node: string): Promise<void> {
    this.assertNotStopped(`pause ${node}`);
    const r = this.runtime(node);
    if (!r.running) throw new Error(`cannot pause node ${node}: it is not running`);
    try {
      await call(r.container.pause(), `pausing ${node}`);
      r.paused = 'freezer';
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 500) throw err;
      await call(r.container.kill({ signal: 'SIGSTOP' }), `stopping ${node} with SIGSTOP`);
      r.paused = 'signal';
    }
  }

  async resume(node: string): Promise<void> {
    const r = this.runtime(node);
    if (!r.running || r.paused === null) return;
    if (r.paused === 'freezer') {
      await call(r.container.unpause(), `resuming ${node}`).catch((err: unknown) => {
        if ((err as { statusCode?: number }).statusCode !== 409) throw err; // 409: not paused
      });
    } else await call(r.container.kill({ signal: 'SIGCONT' }), `resuming ${node} with SIGCONT`);
    r.paused = null;
  }

  async logs(node: string, maxBytes = 64 * 1024): Promise<string> {
    const r = this.runtime(node);
    try {
      const buf = (await call(r.container.logs({ stdout: true, stderr: true, follow: false, tail: 200 }), `reading ${node}'s log`)) as unknown as Buffer;
      return demuxed(buf).slice(-maxBytes);
    } catch {
      return '';
    }
  }

  // ---- network faults: netns.ts's rules inside each container's namespace ----

  private async nsenter(node: string, argv: string[]): Promise<void> {
    const r = this.runtime(node);
    if (!r.running || r.pid === null) return; // no namespace now: the rules go in when it starts again
    const res = await runCommand('nsenter', ['-t', String(r.pid), '-n', ...argv], 10_000);
    if (res.exitCode !== 0) throw new Error(`nsenter into ${node}: \`${argv.join(' ')}\` ${res.timedOut ? 'timed out' : `exited ${res.exitCode}`}: ${res.stderr.trim()}`);
  }

  private async clearNetwork(nodes: readonly string[]): Promise<void> {
    await Promise.all(
      nodes.map(async (n) => {
        await this.nsenter(n, ['iptables', '-w', iptablesWaitS, '-F', 'INPUT']);
        const r = this.runtime(n);
        if (r.running && r.pid !== null) await runCommand('nsenter', ['-t', String(r.pid), '-n', 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root'], 10_000);
      }),
    );
  }

  /** The fault in force (grudge or degradation), applied afresh to these nodes' namespaces. */
  private async applyNetworkTo(nodes: readonly string[]): Promise<void> {
    const plan = this.plan!;
    const only = new Set(nodes);
    await this.clearNetwork(nodes);
    const rules = this.grudge !== null ? grudgeRules(plan, this.grudge.grudge, this.grudge.scope) : this.degradation?.kind === 'packet-loss' ? packetLossRules(plan, this.degradation.probability, this.degradation.nodes) : [];
    for (const rule of rules) if (only.has(rule.namespace)) await this.nsenter(rule.namespace, ['iptables', ...rule.args]);
    if (this.degradation?.kind === 'bandwidth') {
      for (const c of bandwidthCommands(plan, this.degradation.rateKbit, this.degradation.nodes)) if (only.has(c.namespace)) await this.nsenter(c.namespace, ['tc', ...c.args]);
    }
  }

  async partition(grudge: Grudge, scope: LinkScope = 'all'): Promise<void> {
    this.assertNotStopped('partition');
    if (this.plan === null) throw new Error('docker backend: not started');
    grudgeRules(this.plan, grudge, scope); // validate before touching anything
    this.grudge = { grudge: structuredClone(grudge), scope };
    this.degradation = null;
    await this.applyNetworkTo([...this.runtimes.keys()]);
  }

  async degrade(d: LinkDegradation): Promise<void> {
    this.assertNotStopped(d.kind);
    if (this.plan === null) throw new Error('docker backend: not started');
    this.grudge = null;
    this.degradation = d;
    await this.applyNetworkTo([...this.runtimes.keys()]);
  }

  async heal(): Promise<void> {
    this.grudge = null;
    this.degradation = null;
    if (this.plan === null) return;
    await this.clearNetwork([...this.runtimes.keys()]);
  }

  /** The INPUT DROP sources in a node's namespace (for tests and status). */
  async dropSources(node: string): Promise<string[]> {
    const r = this.runtime(node);
    if (r.pid === null) return [];
    const out = await runCommand('nsenter', ['-t', String(r.pid), '-n', 'iptables', '-w', iptablesWaitS, '-S', 'INPUT'], 10_000);
    return [...out.stdout.matchAll(/-A INPUT -s (\S+?)(?:\/32)? -j DROP/g)].map((m) => m[1]!);
  }

  // ---- NodeAccess ----

  /** argv inside the node's container (its own file system: only what the image holds). */
  async exec(node: string, argv: string[], timeoutMs = 10_000): Promise<ExecResult> {
    const r = this.runtime(node);
    if (argv.length === 0) throw new Error('exec needs a command');
    const e = await call(r.container.exec({ Cmd: argv, AttachStdout: true, AttachStderr: true }), `exec in ${node}`);
    const stream = await call(e.start({ hijack: true, stdin: false }), `exec in ${node}`);
    const chunks: { out: Buffer[]; err: Buffer[] } = { out: [], err: [] };
    const sink = (to: Buffer[]): NodeJS.WritableStream =>
      ({
        write: (c: Buffer) => {
          to.push(Buffer.from(c));
          return true;
        },
        end: () => {},
        on: () => {},
        once: () => {},
        emit: () => false,
      }) as unknown as NodeJS.WritableStream;
    this.docker.modem.demuxStream(stream, sink(chunks.out), sink(chunks.err));
    await withDeadline(new Promise<void>((res) => stream.once('end', () => res())), timeoutMs, `exec ${argv[0]} in ${node}`);
    const info = await call(e.inspect(), `exec result in ${node}`);
    return { exitCode: info.ExitCode ?? -1, stdout: Buffer.concat(chunks.out).toString('utf8'), stderr: Buffer.concat(chunks.err).toString('utf8') };
  }

  /**
   * A node's data (the volume, through the container's archive API), its log and a listing into dest.
   * After stop() the containers are gone: what stop() collected into `<workDir>/<node>` is used.
   */
  async collect(node: string, dest: string): Promise<Collected> {
    const r = this.runtime(node);
    const nodeDir = dirname(r.info.logFile);
    if (this.stopping !== null) return collectLocalFiles({ dataDir: join(nodeDir, 'data'), logFile: r.info.logFile, extraLogs: [] }, dest);
    await this.collectFromContainer(r, dest);
    return collectLocalFiles({ dataDir: join(dest, 'data'), logFile: r.info.logFile, extraLogs: [] }, dest);
  }

  private async collectFromContainer(r: NodeRuntime, dest: string): Promise<void> {
    const system = this.system!;
    const dataDest = join(dest, 'data');
    mkdirSync(dataDest, { recursive: true });
    const archive = (await call(r.container.getArchive({ path: system.dataDir }), `reading ${r.info.name}'s data`)) as NodeJS.ReadableStream;
    await withDeadline(
      new Promise<void>((resolve, reject) => {
        // the archive holds `<basename of dataDir>/...`: strip that first component
        const x = tar.extract(dataDest, { map: (h) => ({ ...h, name: h.name.split('/').slice(1).join('/') || '.' }), ignore: (_, h) => h?.name === '.' });
        x.on('finish', () => resolve());
        x.on('error', reject);
        archive.on('error', reject);
        archive.pipe(x);
      }),
      60_000,
      `copying ${r.info.name}'s data`,
    );
    for (const log of r.extraLogs) {
      const buf = (await call(r.container.getArchive({ path: log }), `reading ${log}`).catch(() => null)) as NodeJS.ReadableStream | null;
      if (buf !== null) await new Promise<void>((resolve) => buf.pipe(tar.extract(dest)).on('finish', () => resolve()).on('error', () => resolve()));
    }
  }

  stop(): Promise<void> {
    this.stopping ??= this.teardown();
    return this.stopping;
  }

  private async teardown(): Promise<void> {
    try {
      await Promise.all(
        [...this.runtimes.values()].map(async (r) => {
          if (r.paused !== null) await this.resume(r.info.name).catch(() => {});
          if (r.running) await call(r.container.stop({ t: stopGraceS }), `stopping ${r.info.name}`, (stopGraceS + 15) * 1000).catch(() => {});
          r.running = false;
          r.pid = null;
          try {
            await this.collectFromContainer(r, dirname(r.info.logFile));
          } catch (err) {
            this.log(`collecting ${r.info.name}: ${(err as Error).message}`);
          }
          r.log?.end();
          await call(r.container.remove({ force: true, v: true }), `removing ${r.info.name}`).catch(() => {});
        }),
      );
      for (const v of this.volumes) await call(this.docker.getVolume(v).remove(), `removing volume ${v}`).catch(() => {});
      if (this.network !== null) await call(this.network.remove(), 'removing the network').catch(() => {});
      if (this.subnetIndex !== null) releaseSubnet(this.subnetIndex);
    } finally {
      liveBackends.delete(this);
    }
  }

  /** Synchronous best effort for process exit: the docker CLI removes what the run labelled. */
  stopSync(): void {
    const runId = this.spec?.runId;
    if (runId === undefined) return;
    const ids = runCommandSync('docker', ['ps', '-aq', '--filter', `label=faultline.run=${runId}`], 5_000).stdout.split(/\s+/).filter((x) => x !== '');
    if (ids.length > 0) runCommandSync('docker', ['rm', '-f', '-v', ...ids], 20_000);
    if (this.volumes.length > 0) runCommandSync('docker', ['volume', 'rm', '-f', ...this.volumes], 10_000);
    if (this.network !== null) runCommandSync('docker', ['network', 'rm', `fl-${runId}`], 10_000);
    if (this.subnetIndex !== null) releaseSubnet(this.subnetIndex);
    liveBackends.delete(this);
  }
}

/** Docker's multiplexed log format (8-byte frame headers) as text; plain text passes through. */
export function demuxed(buf: Buffer): string {
  const parts: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length && (buf[i] === 1 || buf[i] === 2) && buf[i + 1] === 0) {
    const len = buf.readUInt32BE(i + 4);
    parts.push(buf.subarray(i + 8, i + 8 + len));
    i += 8 + len;
  }
  if (i === 0) return buf.toString('utf8');
  return Buffer.concat(parts).toString('utf8');
}

/** The docker backend, or a one-line EngineUnavailableError saying how to start an engine. */
export async function createDockerBackend(opts: { log?: (m: string) => void } = {}): Promise<DockerBackend> {
  const docker = dockerClient();
  await pingEngine(docker);
  if (!(await hasExecutable('nsenter'))) throw new SystemError('the docker backend needs nsenter (Debian package util-linux) for network faults');
  return new DockerBackend(docker, { tc: await hasExecutable('tc'), ...(opts.log === undefined ? {} : { log: opts.log }) });
}
