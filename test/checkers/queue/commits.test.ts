/**
 * KeyCommits answers the commit rules' questions fast; each answer must equal its definition computed by
 * brute force over random commit histories (processes with one commit in flight each, any verdicts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyCommits } from '../../../checkers/queue/commits.ts';
import type { KeyCommit } from '../../../checkers/queue/commits.ts';

/** Interleave per-process commit sequences into lines; each commit is invoke then completion (or none). */
const historyArb = fc
  .array(fc.record({ p: fc.integer({ min: 0, max: 3 }), offset: fc.integer({ min: 0, max: 20 }), status: fc.constantFrom('ok' as const, 'fail' as const, 'info' as const), never: fc.boolean() }), { maxLength: 40 })
  .chain((cs) => fc.tuple(fc.constant(cs), fc.array(fc.boolean(), { minLength: cs.length * 2, maxLength: cs.length * 2 })))
  .map(([cs, coin]) => {
    const list: KeyCommit[] = [];
    const open = new Map<number, KeyCommit>();
    let line = 1;
    let j = 0;
    for (const c of cs) {
      const cur = open.get(c.p);
      if (cur !== undefined) {
        cur.line = line++;
        open.delete(c.p);
      }
      const k: KeyCommit = { offset: c.offset, status: c.status, process: c.p, invokeLine: line++, line: -1 };
      list.push(k);
      open.set(c.p, k);
      // Sometimes complete another process's commit right away.
      if (coin[j++] === true) {
        for (const [p, o] of open) if (p !== c.p && !(cs.find((x) => x.p === p)?.never ?? false)) { o.line = line++; open.delete(p); break; }
      }
    }
    for (const [p, o] of open) if (!(cs.find((x) => x.p === p)?.never ?? false)) o.line = line++;
    return { list, lines: line };
  });

describe('KeyCommits', () => {
  it('agrees with the brute-force definitions', () => {
    fc.assert(
      fc.property(historyArb, fc.nat(), fc.nat(), (h, a, b) => {
        const kc = new KeyCommits(h.list);
        const L = 1 + (b % h.lines);
        const oks = h.list.filter((c) => c.status === 'ok' && c.line !== -1 && c.line < L);
        expect(kc.lastOkBefore(L)).toBe(oks.length === 0 ? undefined : oks.reduce((x, y) => (y.line > x.line ? y : x)));
        const hi = kc.highestOkBefore(L);
        expect(hi?.offset).toBe(oks.length === 0 ? undefined : Math.max(...oks.map((c) => c.offset)));
        const inv = h.list.filter((c) => c.status !== 'fail' && c.invokeLine < L);
        expect(kc.highestInvokedBefore(L)?.offset).toBe(inv.length === 0 ? undefined : Math.max(...inv.map((c) => c.offset)));
        if (h.list.length === 0) return;
        const anchor = h.list[a % h.list.length]!;
        const except = h.list[b % h.list.length]!;
        const maybe = h.list.filter((c) => c !== except && c.status !== 'fail' && c.invokeLine < L && !(c.line !== -1 && c.line < anchor.invokeLine));
        const want = Math.min(anchor.offset, ...maybe.map((c) => c.offset));
        expect(kc.lowestMaybeAppliedAfter(anchor, L, except).offset).toBe(want);
      }),
      { numRuns: 500 },
    );
  });
});
