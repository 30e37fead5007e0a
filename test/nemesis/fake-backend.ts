// An in-memory Backend (+ Partitioner when asked) that tracks which nodes are killed or paused and the
// grudge in force, and can be told to fail chosen actions: the nemesis tests drive it.
import type { Backend, ClusterSpec, Grudge, LinkDegradation, LinkDegrader, LinkScope, NodeInfo, Partitioner } from '../../harness/backend.ts';
import type { ClusterAdmin, ClusterDescription, PartitionInfo, Reassigning } from '../../harness/backends/admin.ts';

export type FakeCall = { f: string; node?: string; grudge?: Grudge; nodes?: readonly string[] };

export function fakeNodes(n: number): NodeInfo[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `n${i + 1}`,
    id: i + 1,
    kafkaAddress: `127.0.0.1:${19092 + i}`,
    controllerAddress: `127.0.0.1:${19192 + i}`,
    dataDir: `/nonexistent/n${i + 1}`,
    logFile: `/nonexistent/n${i + 1}.log`,
  }));
}

export class FakeBackend implements Backend {
  readonly name = 'local' as const;
  readonly killed = new Set<string>();
  readonly paused = new Set<string>();
  readonly calls: FakeCall[] = [];
  /** actions that throw while in this set, e.g. 'restart' */
  readonly failing = new Set<string>();
  readonly limitations: string[] = ['network partitions need root (fake)'];
  private readonly infos: NodeInfo[];
  constructor(infos: NodeInfo[]) {
    this.infos = infos;
  }
  async start(_spec: ClusterSpec): Promise<NodeInfo[]> {
    return this.nodes();
  }
  async stop(): Promise<void> {}
  nodes(): NodeInfo[] {
    return this.infos.map((n) => ({ ...n }));
  }
  private act(f: string, node: string): void {
    if (!this.infos.some((n) => n.name === node)) throw new Error(`unknown node ${node}`);
    this.calls.push({ f, node });
    if (this.failing.has(f)) throw new Error(`${f} failed (fake)`);
  }
  async kill(node: string): Promise<void> {
    this.act('kill', node);
    this.killed.add(node);
    this.paused.delete(node);
  }
  readonly powerLossMissing: string[] = [];
  /** power loss (PowerLosser): like a kill for the fake, recorded as 'power-loss' */
  async powerLoss(node: string): Promise<void> {
    this.act('power-loss', node);
    this.killed.add(node);
    this.paused.delete(node);
  }
  /** graceful stop (NodeStopper): like a kill for the fake, but recorded as 'stop' */
  async stopNode(node: string): Promise<void> {
    this.act('stop', node);
    this.killed.add(node);
    this.paused.delete(node);
  }
  /** data files every node has (DataCorrupter), and the changes made to them */
  readonly files = [{ path: 't-0/00000000000000000000.log', sizeBytes: 4096 }, { path: 't-0/00000000000000000000.index', sizeBytes: 0 }, { path: 'replication-offset-checkpoint', sizeBytes: 40 }];
  readonly corrupted: Array<{ node: string; path: string; how: string }> = [];
  async dataFiles(node: string): Promise<Array<{ path: string; sizeBytes: number }>> {
    this.act('data-files', node);
    if (!this.killed.has(node)) throw new Error(`${node} is running`);
    return this.files.map((f) => ({ ...f }));
  }
  async flipBits(node: string, path: string, flips: ReadonlyArray<{ offset: number; bit: number }>): Promise<void> {
    this.act('flip', node);
    this.corrupted.push({ node, path, how: `flip ${flips.length}` });
  }
  async truncateFile(node: string, path: string, toBytes: number): Promise<void> {
    this.act('truncate', node);
    this.corrupted.push({ node, path, how: `truncate ${toBytes}` });
  }
  readonly diskFullMissing: string[] = [];
  readonly fullDisks = new Set<string>();
  async fillDisk(node: string): Promise<void> {
    this.act('disk-full', node);
    this.fullDisks.add(node);
  }
  async freeDisk(node: string): Promise<boolean> {
    this.act('disk-free', node);
    this.fullDisks.delete(node);
    return false;
  }
  readonly clockMissing: string[] = [];
  /** node -> its wall clock's offset (ms) or strobe in force (ClockSkewer) */
  readonly clocks = new Map<string, { offsetMs: number } | { strobeMs: number; periodMs: number }>();
  async setClockOffset(node: string, offsetMs: number): Promise<void> {
    this.act('clock', node);
    if (offsetMs === 0) this.clocks.delete(node);
    else this.clocks.set(node, { offsetMs });
  }
  async strobeClock(node: string, deltaMs: number, periodMs: number): Promise<void> {
    this.act('strobe', node);
    this.clocks.set(node, { strobeMs: deltaMs, periodMs });
  }
  async restart(node: string): Promise<void> {
    this.act('restart', node);
    this.killed.delete(node);
    this.paused.delete(node);
  }
  async pause(node: string): Promise<void> {
    this.act('pause', node);
    if (this.killed.has(node)) throw new Error(`cannot pause ${node}: not running`);
    this.paused.add(node);
  }
  async resume(node: string): Promise<void> {
    this.act('resume', node);
    this.paused.delete(node);
  }
  async logs(): Promise<string> {
    return '';
  }
  /** nodes added (MembershipChanger) and not removed yet; ids are never reused */
  readonly added = new Set<string>();
  #nextId = 0;
  async addNode(): Promise<NodeInfo> {
    this.calls.push({ f: 'add-node' });
    if (this.failing.has('add-node')) throw new Error('add-node failed (fake)');
    this.#nextId = Math.max(this.#nextId, ...this.infos.map((n) => n.id)) + 1;
    const k = this.#nextId;
    const info = { ...fakeNodes(k)[k - 1]! };
    this.infos.push(info);
    this.added.add(info.name);
    return { ...info };
  }
  async removeNode(node: string): Promise<void> {
    if (!this.added.has(node)) throw new Error(`${node} was not added: the cluster's own nodes are not removed`);
    this.act('remove-node', node);
    this.infos.splice(this.infos.findIndex((n) => n.name === node), 1);
    this.added.delete(node);
    this.killed.delete(node);
    this.paused.delete(node);
    this.clocks.delete(node); // its clock control file goes with it, as in the local backend
  }
}

/**
 * An in-memory ClusterAdmin over a FakeBackend: partitions with replica lists; a reassignment stays in
 * progress for `pollsToComplete` reassignments() calls, then the replica list is the target. Live
 * brokers are the backend's nodes that are neither killed nor unregistered.
 */
export class FakeAdmin implements ClusterAdmin {
  readonly partitions = new Map<string, PartitionInfo>();
  readonly pending = new Map<string, { to: number[]; polls: number }>();
  readonly unregistered = new Set<number>();
  readonly calls: string[] = [];
  pollsToComplete = 2;
  private readonly backend: FakeBackend;
  constructor(backend: FakeBackend, replicas: Record<string, number[]>) {
    this.backend = backend;
    for (const [key, r] of Object.entries(replicas)) {
      const dash = key.lastIndexOf('-');
      this.partitions.set(key, { topic: key.slice(0, dash), partition: Number(key.slice(dash + 1)), leader: r[0]!, replicas: [...r], isr: [...r] });
    }
  }
  async describe(topics: readonly string[] | null): Promise<ClusterDescription> {
    const brokers = this.backend.nodes().map((n) => n.id).filter((id) => !this.unregistered.has(id) && !this.backend.killed.has(`n${id}`));
    const partitions = [...this.partitions.values()].filter((p) => topics === null || topics.includes(p.topic)).map((p) => structuredClone(p));
    return { from: 'fake', brokers, partitions };
  }
  async reassign(topic: string, partition: number, replicas: readonly number[]): Promise<void> {
    this.calls.push(`reassign ${topic}-${partition} [${replicas.join(',')}]`);
    if (!this.partitions.has(`${topic}-${partition}`)) throw new Error(`unknown ${topic}-${partition}`);
    this.pending.set(`${topic}-${partition}`, { to: [...replicas], polls: this.pollsToComplete });
  }
  async reassignments(): Promise<Reassigning[]> {
    const out: Reassigning[] = [];
    for (const [key, r] of this.pending) {
      const p = this.partitions.get(key)!;
      if (r.polls-- > 0) {
        out.push({ topic: p.topic, partition: p.partition, replicas: [...new Set([...r.to, ...p.replicas])], adding: r.to.filter((x) => !p.replicas.includes(x)), removing: p.replicas.filter((x) => !r.to.includes(x)) });
        continue;
      }
      this.pending.delete(key);
      this.partitions.set(key, { ...p, replicas: [...r.to], isr: [...r.to], leader: r.to.includes(p.leader) ? p.leader : r.to[0]! });
    }
    return out;
  }
  async electPreferred(): Promise<void> {}
  async unregisterBroker(brokerId: number): Promise<void> {
    this.calls.push(`unregister ${brokerId}`);
    this.unregistered.add(brokerId);
  }
}

export class FakePartitionBackend extends FakeBackend implements Partitioner, LinkDegrader {
  grudge: Grudge = {};
  scope: LinkScope = 'all';
  degraded: LinkDegradation | null = null;
  async partition(grudge: Grudge, scope: LinkScope = 'all'): Promise<void> {
    this.calls.push({ f: 'partition', grudge });
    if (this.failing.has('partition')) throw new Error('partition failed (fake)');
    this.grudge = structuredClone(grudge);
    this.scope = scope;
    this.degraded = null;
  }
  async degrade(d: LinkDegradation): Promise<void> {
    this.calls.push({ f: d.kind, ...(d.nodes === undefined ? {} : { nodes: [...d.nodes] }) });
    if (this.failing.has(d.kind)) throw new Error(`${d.kind} failed (fake)`);
    this.grudge = {};
    this.degraded = { ...d };
  }
  async heal(): Promise<void> {
    this.calls.push({ f: 'heal' });
    if (this.failing.has('heal')) throw new Error('heal failed (fake)');
    this.grudge = {};
    this.degraded = null;
  }
}
