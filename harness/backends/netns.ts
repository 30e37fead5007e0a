/**
 * Network namespaces, a bridge and iptables partitions for the local backend (root only).
 *
 * Layout of one run with subnet index X (10.208.X.0/24, 1 <= X <= 254):
 *   root namespace:  bridge `flb<X>` with 10.208.X.1 (the harness's clients come from this address)
 *   node k:          namespace `fl<tag>n<k>` (tag = the run id's letters and digits), loopback up,
 *                    `eth0` = one end of a veth pair whose other end `flv<X>n<k>` is a bridge port,
 *                    address 10.208.X.(10+k); its broker listens on :9092 (Kafka) and :9093 (controller).
 * Interface names stay <= 15 characters (IFNAMSIZ) for every X <= 254 and k <= 99.
 *
 * Partitions (Jepsen `net/drop-all!`): for a grudge {a: [b, c]} the namespace of a gets
 * `iptables -A INPUT -s <ip b> -j DROP` per source, so peers' packets vanish silently while the bridge
 * address (the harness's clients) still gets through. `heal` flushes INPUT in every namespace.
 * Applying a grudge first flushes the previous one, so grudges replace each other.
 *
 * Subnets are claimed with an exclusive-create file per index in the state directory; a claim whose
 * owner is dead, or an index already on some interface of this host, is skipped, so concurrent runs
 * never share a subnet.
 */
import { openSync, closeSync, readFileSync, rmSync, mkdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, runChecked, runCommandSync } from '../proc/exec.ts';
import { ownerAlive, processStartTicks, stateDir } from './state.ts';
import type { Grudge, LinkDegradation, LinkScope } from '../backend.ts';

export const kafkaPortInNamespace = 9092;
/** Faultline's controller port inside a namespace (systems/faultline.json); another system's definition names its own. */
export const controllerPortInNamespace = 9093;
const iptablesWaitS = '5';

export interface NodeNet {
  node: string;
  index: number;
  namespace: string;
  vethHost: string;
  vethPeer: string;
  address: string;
}

export interface NetworkPlan {
  subnetIndex: number;
  bridge: string;
  bridgeAddress: string;
  nodes: NodeNet[];
  /** the port every node's controller listens on (the system definition's `ports.controller`): a controller-link cut drops only it */
  controllerPort: number;
}

export function runTag(runId: string): string {
  const tag = runId.replace(/[^A-Za-z0-9]/g, '').slice(0, 24);
  if (tag === '') throw new Error(`run id '${runId}' has no letters or digits to name namespaces with`);
  return tag;
}

/** Pure: the names and addresses of a run's network (see the module docstring). */
export function planNetwork(runId: string, subnetIndex: number, nodeCount: number, controllerPort = controllerPortInNamespace): NetworkPlan {
  if (!Number.isInteger(subnetIndex) || subnetIndex < 1 || subnetIndex > 254) throw new RangeError(`subnet index must be 1..254, got ${subnetIndex}`);
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > 99) throw new RangeError(`node count must be 1..99, got ${nodeCount}`);
  const nodes: NodeNet[] = [];
  for (let k = 1; k <= nodeCount; k++) nodes.push(planNodeNet(runId, subnetIndex, k));
  return { subnetIndex, bridge: `flb${subnetIndex}`, bridgeAddress: `10.208.${subnetIndex}.1`, nodes, controllerPort };
}

/** Pure: node k's names and address in the run's subnet (a node added later gets the next k). */
export function planNodeNet(runId: string, subnetIndex: number, k: number): NodeNet {
  if (!Number.isInteger(k) || k < 1 || k > 99) throw new RangeError(`node index must be 1..99, got ${k}`);
  const tag = runTag(runId);
  return { node: `n${k}`, index: k, namespace: `fl${tag}n${k}`, vethHost: `flv${subnetIndex}n${k}`, vethPeer: `flp${subnetIndex}n${k}`, address: `10.208.${subnetIndex}.${10 + k}` };
}

/** The root-namespace rule that keeps bridged traffic flowing even if FORWARD's policy is DROP (docker). */
export function forwardRuleFor(plan: NetworkPlan): string[] {
  return ['FORWARD', '-i', plan.bridge, '-o', plan.bridge, '-j', 'ACCEPT'];
}

function claimPath(index: number): string {
  return join(stateDir(), `subnet-${index}.claim`);
}

async function subnetsInUse(): Promise<Set<number>> {
  const used = new Set<number>();
  const r = await runCommand('ip', ['-4', '-o', 'addr', 'show'], 5_000);
  for (const m of r.stdout.matchAll(/inet 10\.208\.(\d+)\./g)) used.add(Number(m[1]));
  return used;
}

function claimOwnerDead(index: number): boolean {
  try {
    const [pid, ticks] = readFileSync(claimPath(index), 'utf8').trim().split(/\s+/);
    return !ownerAlive({ ownerPid: Number(pid), ownerStartTicks: ticks === undefined || ticks === 'null' ? null : Number(ticks) });
  } catch {
    return false; // unreadable right now: someone is writing it; treat as taken
  }
}

/** Claim a free /24 for this process; starts at a runId-derived index so runs spread out. */
export async function claimSubnet(runId: string): Promise<number> {
  mkdirSync(stateDir(), { recursive: true });
  const used = await subnetsInUse();
  let h = 0;
  for (const ch of runId) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  for (let i = 0; i < 254; i++) {
    const index = ((h + i) % 254) + 1;
    if (used.has(index)) continue;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(claimPath(index), 'wx');
        writeSync(fd, `${process.pid} ${processStartTicks(process.pid) ?? 'null'}\n`);
        closeSync(fd);
        return index;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (attempt === 0 && claimOwnerDead(index)) rmSync(claimPath(index), { force: true });
        else break;
      }
    }
  }
  throw new Error('no free subnet in 10.208.0.0/16: 254 runs hold one each (faultline cluster down, or check /tmp/faultline-state)');
}

export function releaseSubnet(index: number): void {
  rmSync(claimPath(index), { force: true });
}

async function ip(args: string[]): Promise<void> {
  await runChecked('ip', args, 10_000);
}

/** Create the bridge, namespaces and veth pairs. On failure, whatever was made is removed again. */
export async function createNetwork(plan: NetworkPlan, withForwardRule: boolean): Promise<void> {
  try {
    await ip(['link', 'add', plan.bridge, 'type', 'bridge']);
    await ip(['addr', 'add', `${plan.bridgeAddress}/24`, 'dev', plan.bridge]);
    await ip(['link', 'set', plan.bridge, 'up']);
    if (withForwardRule) await runChecked('iptables', ['-w', iptablesWaitS, '-I', ...forwardRuleFor(plan).slice(0, 1), '1', ...forwardRuleFor(plan).slice(1)]);
    for (const n of plan.nodes) await createNodeNet(plan, n);
  } catch (err) {
    await destroyNetwork({
      namespaces: plan.nodes.map((n) => n.namespace),
      vethHost: plan.nodes.map((n) => n.vethHost),
      bridge: plan.bridge,
      forwardRule: withForwardRule ? forwardRuleFor(plan) : null,
    });
    throw err;
  }
}

async function createNodeNet(plan: NetworkPlan, n: NodeNet): Promise<void> {
  await ip(['netns', 'add', n.namespace]);
  await ip(['-n', n.namespace, 'link', 'set', 'lo', 'up']);
  await ip(['link', 'add', n.vethHost, 'type', 'veth', 'peer', 'name', n.vethPeer, 'netns', n.namespace]);
  await ip(['link', 'set', n.vethHost, 'master', plan.bridge]);
  await ip(['link', 'set', n.vethHost, 'up']);
  await ip(['-n', n.namespace, 'link', 'set', n.vethPeer, 'name', 'eth0']);
  await ip(['-n', n.namespace, 'addr', 'add', `${n.address}/24`, 'dev', 'eth0']);
  await ip(['-n', n.namespace, 'link', 'set', 'eth0', 'up']);
}

/** One more node's namespace and veth on an existing run's bridge; on failure, what was made is removed. */
export async function addNodeNetwork(plan: NetworkPlan, n: NodeNet): Promise<void> {
  try {
    await createNodeNet(plan, n);
  } catch (err) {
    await destroyNetwork({ namespaces: [n.namespace], vethHost: [n.vethHost], bridge: null, forwardRule: null });
    throw err;
  }
}

export interface NetworkResources {
  namespaces: string[];
  vethHost: string[];
  bridge: string | null;
  forwardRule: string[] | null;
}

/** Pids of processes inside a namespace (`ip netns pids`). */
export async function namespacePids(namespace: string): Promise<number[]> {
  const r = await runCommand('ip', ['netns', 'pids', namespace], 5_000);
  if (r.exitCode !== 0) return [];
  return r.stdout.split(/\s+/).filter((x) => x !== '').map(Number).filter((x) => Number.isInteger(x) && x > 0);
}

/**
 * Remove everything listed, tolerating pieces that are already gone. Processes still inside a namespace
 * are SIGKILLed first (a namespace with a live process would otherwise linger after `ip netns del`).
 * Returns the names actually removed.
 */
export async function destroyNetwork(res: NetworkResources): Promise<string[]> {
  const removed: string[] = [];
  for (const ns of res.namespaces) {
    for (const pid of await namespacePids(ns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const r = await runCommand('ip', ['netns', 'del', ns], 10_000);
    if (r.exitCode === 0) removed.push(`netns ${ns}`);
  }
  for (const veth of res.vethHost) {
    const r = await runCommand('ip', ['link', 'del', veth], 5_000);
    if (r.exitCode === 0) removed.push(`link ${veth}`);
  }
  if (res.bridge !== null) {
    const r = await runCommand('ip', ['link', 'del', res.bridge], 5_000);
    if (r.exitCode === 0) removed.push(`bridge ${res.bridge}`);
  }
  if (res.forwardRule !== null) {
    // delete every copy (bounded): a rule inserted twice by a retried start must not survive
    for (let i = 0; i < 8; i++) {
      const r = await runCommand('iptables', ['-w', iptablesWaitS, '-D', ...res.forwardRule], 10_000);
      if (r.exitCode !== 0) break;
      removed.push(`rule ${res.forwardRule.join(' ')}`);
    }
  }
  return removed;
}

/** Synchronous best effort for `process.on('exit')`: same steps as destroyNetwork, bounded per call. */
export function destroyNetworkSync(res: NetworkResources): void {
  for (const ns of res.namespaces) {
    const pids = runCommandSync('ip', ['netns', 'pids', ns], 3_000).stdout.split(/\s+/).filter((x) => x !== '');
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    runCommandSync('ip', ['netns', 'del', ns], 3_000);
  }
  for (const veth of res.vethHost) runCommandSync('ip', ['link', 'del', veth], 3_000);
  if (res.bridge !== null) runCommandSync('ip', ['link', 'del', res.bridge], 3_000);
  if (res.forwardRule !== null) {
    for (let i = 0; i < 8; i++) if (runCommandSync('iptables', ['-w', iptablesWaitS, '-D', ...res.forwardRule], 5_000).exitCode !== 0) break;
  }
}

/**
 * Pure: the iptables commands (per namespace) that realise a grudge, after a flush. With scope
 * `controller`, only TCP to or from the controller port is dropped (the peer dialling our controller
 * listener, and the answers of the peer's controller listener to our dials): Kafka and replication
 * traffic still flows.
 */
export function grudgeRules(plan: NetworkPlan, grudge: Grudge, scope: LinkScope = 'all'): Array<{ namespace: string; args: string[] }> {
  const byName = new Map(plan.nodes.map((n) => [n.node, n]));
  const rules: Array<{ namespace: string; args: string[] }> = [];
  for (const [target, sources] of Object.entries(grudge)) {
    const t = byName.get(target);
    if (t === undefined) throw new Error(`grudge names unknown node '${target}'; nodes are ${[...byName.keys()].join(', ')}`);
    for (const source of [...new Set(sources)]) {
      const s = byName.get(source);
      if (s === undefined) throw new Error(`grudge names unknown node '${source}'; nodes are ${[...byName.keys()].join(', ')}`);
      if (s.node === t.node) continue;
      if (scope === 'controller') {
        for (const dir of ['--dport', '--sport']) {
          rules.push({ namespace: t.namespace, args: ['-w', iptablesWaitS, '-A', 'INPUT', '-s', s.address, '-p', 'tcp', dir, String(plan.controllerPort), '-j', 'DROP'] });
        }
      } else rules.push({ namespace: t.namespace, args: ['-w', iptablesWaitS, '-A', 'INPUT', '-s', s.address, '-j', 'DROP'] });
    }
  }
  return rules;
}

/**
 * The links a degradation covers: every link between two nodes when `degraded` is absent, otherwise
 * only the links with a degraded node at either end (one slow or lossy node, the others talking freely).
 */
function degradedSet(plan: NetworkPlan, degraded: readonly string[] | undefined): Set<string> {
  const names = plan.nodes.map((n) => n.node);
  if (degraded === undefined) return new Set(names);
  for (const d of degraded) if (!names.includes(d)) throw new Error(`degradation names unknown node '${d}'; nodes are ${names.join(', ')}`);
  return new Set(degraded);
}

/**
 * Pure: random packet loss between nodes (iptables `-m statistic`): each namespace drops each packet
 * from each other node with the given probability, on every link, or with `degraded` only on the links
 * that touch one of those nodes (both directions). The bridge address (the harness's clients) is never
 * matched.
 */
export function packetLossRules(plan: NetworkPlan, probability: number, degraded?: readonly string[]): Array<{ namespace: string; args: string[] }> {
  if (!(probability > 0 && probability < 1)) throw new RangeError(`packet loss probability must be in (0, 1), got ${probability}`);
  const slow = degradedSet(plan, degraded);
  const rules: Array<{ namespace: string; args: string[] }> = [];
  for (const t of plan.nodes) {
    for (const s of plan.nodes) {
      if (s.node === t.node || !(slow.has(s.node) || slow.has(t.node))) continue;
      rules.push({ namespace: t.namespace, args: ['-w', iptablesWaitS, '-A', 'INPUT', '-s', s.address, '-m', 'statistic', '--mode', 'random', '--probability', String(probability), '-j', 'DROP'] });
    }
  }
  return rules;
}

/**
 * Pure: a bandwidth limit between nodes (`tc` htb on each node's eth0, egress), on every link, or with
 * `degraded` only on the links that touch one of those nodes. A degraded node sends everything but its
 * traffic to the bridge address (the harness's clients, class 1:10, unlimited) through class 1:20,
 * limited to rateKbit; any other node sends through the unlimited class by default and only its traffic
 * to a degraded node's address through 1:20, so a degraded node is slow both ways and the others are
 * not slowed between themselves. No netem here, so no delay: only a rate.
 */
export function bandwidthCommands(plan: NetworkPlan, rateKbit: number, degraded?: readonly string[]): Array<{ namespace: string; args: string[] }> {
  if (!(Number.isInteger(rateKbit) && rateKbit >= 8)) throw new RangeError(`bandwidth must be an integer of at least 8 kbit/s, got ${rateKbit}`);
  const slow = degradedSet(plan, degraded);
  const cmds: Array<{ namespace: string; args: string[] }> = [];
  for (const n of plan.nodes) {
    const to = (addr: string, flowid: string): void => {
      cmds.push({ namespace: n.namespace, args: ['filter', 'add', 'dev', 'eth0', 'parent', '1:', 'protocol', 'ip', 'u32', 'match', 'ip', 'dst', `${addr}/32`, 'flowid', flowid] });
    };
    const peers = plan.nodes.filter((p) => p.node !== n.node && slow.has(p.node));
    if (!slow.has(n.node) && peers.length === 0) continue;
    cmds.push({ namespace: n.namespace, args: ['qdisc', 'add', 'dev', 'eth0', 'root', 'handle', '1:', 'htb', 'default', slow.has(n.node) ? '20' : '10'] });
    cmds.push({ namespace: n.namespace, args: ['class', 'add', 'dev', 'eth0', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10gbit'] });
    cmds.push({ namespace: n.namespace, args: ['class', 'add', 'dev', 'eth0', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', `${rateKbit}kbit`, 'ceil', `${rateKbit}kbit`] });
    if (slow.has(n.node)) to(plan.bridgeAddress, '1:10');
    else for (const p of peers) to(p.address, '1:20');
  }
  return cmds;
}

export async function flushRules(plan: NetworkPlan): Promise<void> {
  await Promise.all(plan.nodes.map((n) => runChecked('ip', ['netns', 'exec', n.namespace, 'iptables', '-w', iptablesWaitS, '-F', 'INPUT'], 10_000)));
}

/** Remove any bandwidth limit (a namespace with none answers an error, which is fine). */
export async function clearShaping(plan: NetworkPlan): Promise<void> {
  await Promise.all(plan.nodes.map((n) => runCommand('ip', ['netns', 'exec', n.namespace, 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root'], 10_000)));
}

/** Every network fault undone: drop rules flushed, shaping removed. */
export async function healNetwork(plan: NetworkPlan): Promise<void> {
  await flushRules(plan);
  await clearShaping(plan);
}

export async function applyGrudge(plan: NetworkPlan, grudge: Grudge, scope: LinkScope = 'all'): Promise<void> {
  const rules = grudgeRules(plan, grudge, scope); // validate before touching anything
  await healNetwork(plan);
  for (const r of rules) await runChecked('ip', ['netns', 'exec', r.namespace, 'iptables', ...r.args], 10_000);
}

export async function applyDegradation(plan: NetworkPlan, d: LinkDegradation): Promise<void> {
  const iptables = d.kind === 'packet-loss' ? packetLossRules(plan, d.probability, d.nodes) : [];
  const tc = d.kind === 'bandwidth' ? bandwidthCommands(plan, d.rateKbit, d.nodes) : [];
  await healNetwork(plan);
  for (const r of iptables) await runChecked('ip', ['netns', 'exec', r.namespace, 'iptables', ...r.args], 10_000);
  for (const c of tc) await runChecked('ip', ['netns', 'exec', c.namespace, 'tc', ...c.args], 10_000);
}

/** The tc classes of a namespace's eth0, as `tc class show` prints them (for tests and status). */
export async function shapingClasses(namespace: string): Promise<string> {
  return runChecked('ip', ['netns', 'exec', namespace, 'tc', 'class', 'show', 'dev', 'eth0'], 10_000);
}

/** DROP rules currently in a namespace's INPUT chain, as `-s` source addresses (for tests and status). */
export async function dropSources(namespace: string): Promise<string[]> {
  const out = await runChecked('ip', ['netns', 'exec', namespace, 'iptables', '-w', iptablesWaitS, '-S', 'INPUT'], 10_000);
  const sources: string[] = [];
  for (const m of out.matchAll(/-A INPUT -s (\S+?)(?:\/32)? -j DROP/g)) sources.push(m[1]!);
  return sources;
}
