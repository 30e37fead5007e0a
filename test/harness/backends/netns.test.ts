import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bandwidthCommands, grudgeRules, packetLossRules, planNetwork, runTag } from '../../../harness/backends/netns.ts';

describe('network plan (pure)', () => {
  it('interface names fit IFNAMSIZ, addresses are unique and inside 10.208.X.0/24, names carry the run id', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }).filter((s) => /[A-Za-z0-9]/.test(s)), fc.integer({ min: 1, max: 254 }), fc.integer({ min: 1, max: 99 }), (runId, x, n) => {
        const p = planNetwork(runId, x, n);
        expect(p.bridge.length).toBeLessThanOrEqual(15);
        expect(p.bridgeAddress).toBe(`10.208.${x}.1`);
        expect(p.nodes.length).toBe(n);
        const addrs = new Set([p.bridgeAddress]);
        for (const node of p.nodes) {
          expect(node.vethHost.length).toBeLessThanOrEqual(15);
          expect(node.vethPeer.length).toBeLessThanOrEqual(15);
          expect(node.namespace).toBe(`fl${runTag(runId)}n${node.index}`);
          expect(node.address.startsWith(`10.208.${x}.`)).toBe(true);
          expect(Number(node.address.split('.')[3])).toBeLessThanOrEqual(254);
          addrs.add(node.address);
        }
        expect(addrs.size).toBe(n + 1);
        expect(new Set(p.nodes.map((v) => v.vethHost)).size).toBe(n);
      }),
    );
  });

  it('refuses out-of-range inputs and run ids with nothing to name namespaces by', () => {
    expect(() => planNetwork('r', 0, 3)).toThrow(/subnet index/);
    expect(() => planNetwork('r', 255, 3)).toThrow(/subnet index/);
    expect(() => planNetwork('r', 1, 100)).toThrow(/node count/);
    expect(() => planNetwork('::', 1, 3)).toThrow(/no letters or digits/);
  });

  it('grudge rules: one DROP per (receiver, source) in the receiver namespace, self and duplicates skipped', () => {
    const p = planNetwork('run1', 7, 3);
    const rules = grudgeRules(p, { n1: ['n2', 'n3', 'n2', 'n1'], n3: ['n1'] });
    expect(rules).toEqual([
      { namespace: 'flrun1n1', args: ['-w', '5', '-A', 'INPUT', '-s', '10.208.7.12', '-j', 'DROP'] },
      { namespace: 'flrun1n1', args: ['-w', '5', '-A', 'INPUT', '-s', '10.208.7.13', '-j', 'DROP'] },
      { namespace: 'flrun1n3', args: ['-w', '5', '-A', 'INPUT', '-s', '10.208.7.11', '-j', 'DROP'] },
    ]);
    expect(rules.some((r) => r.args.includes(p.bridgeAddress))).toBe(false); // the harness's clients keep flowing
    expect(() => grudgeRules(p, { n4: ['n1'] })).toThrow(/unknown node 'n4'/);
    expect(() => grudgeRules(p, { n1: ['x'] })).toThrow(/unknown node 'x'/);
  });
});

describe('link faults as rules (pure)', () => {
  const plan = planNetwork('run1', 7, 3);
  it('controller scope drops only TCP to and from the controller port', () => {
    const rules = grudgeRules(plan, { n1: ['n2'] }, 'controller');
    expect(rules.map((r) => r.args.slice(2).join(' '))).toEqual([
      '-A INPUT -s 10.208.7.12 -p tcp --dport 9093 -j DROP',
      '-A INPUT -s 10.208.7.12 -p tcp --sport 9093 -j DROP',
    ]);
    expect(rules.every((r) => r.namespace === plan.nodes[0]!.namespace)).toBe(true);
  });
  it('controller scope cuts the port the system definition names (not always 9093)', () => {
    const rules = grudgeRules(planNetwork('run1', 7, 3, 33145), { n1: ['n2'] }, 'controller');
    expect(rules.map((r) => r.args.slice(2).join(' '))).toEqual([
      '-A INPUT -s 10.208.7.12 -p tcp --dport 33145 -j DROP',
      '-A INPUT -s 10.208.7.12 -p tcp --sport 33145 -j DROP',
    ]);
  });
  it('packet loss: one statistic rule per ordered pair of nodes, never the bridge', () => {
    const rules = packetLossRules(plan, 0.2);
    expect(rules.length).toBe(6);
    for (const r of rules) {
      expect(r.args).toContain('statistic');
      expect(r.args).not.toContain(plan.bridgeAddress);
    }
    expect(() => packetLossRules(plan, 1)).toThrow(RangeError);
  });
  it('bandwidth: the clients (bridge address) get the unlimited class, the rest the limited default', () => {
    const cmds = bandwidthCommands(plan, 128).filter((c) => c.namespace === plan.nodes[1]!.namespace).map((c) => c.args.join(' '));
    expect(cmds).toEqual([
      'qdisc add dev eth0 root handle 1: htb default 20',
      'class add dev eth0 parent 1: classid 1:10 htb rate 10gbit',
      'class add dev eth0 parent 1: classid 1:20 htb rate 128kbit ceil 128kbit',
      `filter add dev eth0 parent 1: protocol ip u32 match ip dst ${plan.bridgeAddress}/32 flowid 1:10`,
    ]);
    expect(() => bandwidthCommands(plan, 0)).toThrow(RangeError);
  });

  // What the tc commands of one namespace do to a packet to `dst`: limited (class 1:20) or not.
  function limited(cmds: Array<{ namespace: string; args: string[] }>, namespace: string, dst: string): boolean {
    const mine = cmds.filter((c) => c.namespace === namespace).map((c) => c.args);
    const qdisc = mine.find((a) => a[0] === 'qdisc');
    if (qdisc === undefined) return false;
    const filter = mine.find((a) => a[0] === 'filter' && a.includes(`${dst}/32`));
    const flow = filter === undefined ? `1:${qdisc[qdisc.length - 1]}` : filter[filter.length - 1];
    return flow === '1:20';
  }
  it('one node degraded (property): a link is limited or lossy iff a degraded node is at either end; clients never', () => {
    const five = planNetwork('run1', 7, 5);
    const names = five.nodes.map((n) => n.node);
    fc.assert(
      fc.property(fc.subarray(names, { minLength: 1 }), (degraded) => {
        const tc = bandwidthCommands(five, 64, degraded);
        const loss = packetLossRules(five, 0.2, degraded);
        for (const from of five.nodes) {
          expect(limited(tc, from.namespace, five.bridgeAddress)).toBe(false);
          for (const to of five.nodes) {
            if (from === to) continue;
            const want = degraded.includes(from.node) || degraded.includes(to.node);
            expect(limited(tc, from.namespace, to.address), `${from.node} -> ${to.node}`).toBe(want);
            expect(loss.some((r) => r.namespace === to.namespace && r.args.includes(from.address)), `${from.node} -> ${to.node} lossy`).toBe(want);
          }
        }
      }),
    );
    // every node degraded is the untargeted fault
    expect(bandwidthCommands(five, 64, names)).toEqual(bandwidthCommands(five, 64));
    expect(packetLossRules(five, 0.2, names)).toEqual(packetLossRules(five, 0.2));
    expect(() => bandwidthCommands(five, 64, ['n9'])).toThrow(/unknown node 'n9'/);
  });
});
