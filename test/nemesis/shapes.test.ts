import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Grudge } from '../../harness/backend.ts';
import { createRng } from '../../harness/rng.ts';
import { bridge, completeGrudge, halves, isolate, majoritiesRing } from '../../nemesis/shapes.ts';

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${i + 1}`);
const drops = (g: Grudge, a: string, b: string): boolean => (g[a] ?? []).includes(b);
const sees = (g: Grudge, nodes: string[], a: string): string[] => nodes.filter((b) => !drops(g, a, b));

function wellFormed(g: Grudge, nodes: string[]): void {
  for (const [a, bs] of Object.entries(g)) {
    expect(nodes).toContain(a);
    expect(bs.length).toBeGreaterThan(0);
    for (const b of bs) {
      expect(nodes).toContain(b);
      expect(b).not.toBe(a);
    }
    expect(new Set(bs).size).toBe(bs.length);
  }
}

const arbN = fc.integer({ min: 3, max: 9 });
const arbSeed = fc.integer({ min: 0, max: 0xffffffff });

describe('partition shapes', () => {
  it('isolate: the node and every other drop each other, nothing else', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 9 }), fc.nat(), (n, k) => {
        const nodes = names(n);
        const target = nodes[k % n]!;
        const g = isolate(target, nodes);
        wellFormed(g, nodes);
        for (const a of nodes) for (const b of nodes) {
          if (a === b) continue;
          expect(drops(g, a, b)).toBe(a === target || b === target);
        }
      }),
    );
    expect(() => isolate('n9', names(3))).toThrow(/not one of/);
  });

  it('halves: sides of floor(n/2) and ceil(n/2); exactly the cross pairs drop each other', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 9 }), arbSeed, (n, seed) => {
        const nodes = names(n);
        const g = halves(nodes, createRng(seed))!;
        wellFormed(g, nodes);
        const side = sees(g, nodes, 'n1');
        expect([Math.floor(n / 2), Math.ceil(n / 2)]).toContain(side.length);
        for (const a of nodes) for (const b of nodes) {
          if (a !== b) expect(drops(g, a, b)).toBe(side.includes(a) !== side.includes(b));
        }
      }),
    );
    expect(halves(['n1'], createRng(1))).toBeNull();
  });

  it('majorities-ring: every node sees a majority including itself, and no two see the same one', () => {
    fc.assert(
      fc.property(arbN, arbSeed, (n, seed) => {
        const nodes = names(n);
        const g = majoritiesRing(nodes, createRng(seed))!;
        wellFormed(g, nodes);
        const views = nodes.map((a) => sees(g, nodes, a));
        for (const [i, v] of views.entries()) {
          expect(v).toContain(nodes[i]);
          expect(v.length).toBe(Math.floor(n / 2) + 1);
        }
        expect(new Set(views.map((v) => v.join(','))).size).toBe(n);
      }),
    );
    expect(majoritiesRing(names(2), createRng(1))).toBeNull();
  });

  it('bridge: one node sees everyone and is seen by everyone; the two sides drop each other', () => {
    fc.assert(
      fc.property(arbN, arbSeed, (n, seed) => {
        const nodes = names(n);
        const g = bridge(nodes, createRng(seed))!;
        wellFormed(g, nodes);
        const bridges = nodes.filter((a) => nodes.every((b) => !drops(g, a, b) && !drops(g, b, a)));
        expect(bridges.length).toBe(1);
        const rest = nodes.filter((x) => x !== bridges[0]);
        const sideA = rest.filter((x) => !drops(g, rest[0]!, x));
        expect(sideA.length).toBeGreaterThan(0);
        expect(sideA.length).toBeLessThan(rest.length);
        for (const a of rest) for (const b of rest) {
          if (a !== b) expect(drops(g, a, b)).toBe(sideA.includes(a) !== sideA.includes(b));
        }
      }),
    );
    expect(bridge(names(2), createRng(1))).toBeNull();
  });

  it('shapes are deterministic in the rng and vary with it', () => {
    const nodes = names(5);
    expect(halves(nodes, createRng(3))).toEqual(halves(nodes, createRng(3)));
    const distinct = new Set(Array.from({ length: 20 }, (_, s) => JSON.stringify(majoritiesRing(nodes, createRng(s)))));
    expect(distinct.size).toBeGreaterThan(1);
  });

  it('completeGrudge with one component drops nothing', () => {
    expect(completeGrudge([names(3)])).toEqual({});
  });
});
