import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grudgeRules, planNetwork, runTag } from '../../../harness/backends/netns.ts';

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
