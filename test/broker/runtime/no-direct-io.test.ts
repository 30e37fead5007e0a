/**
 * The broker does its I/O only through the Runtime it is given (broker/runtime/runtime.ts): a
 * direct clock read, timer, socket, file call or random draw anywhere else in broker/ would escape
 * the simulation (sim/) and make a seed stop replaying. This test greps for them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..', 'broker');

/** The real runtime is the one place allowed to touch the OS (runtime.ts only declares the interfaces). */
const allowedFiles = new Set(['runtime/real.ts', 'runtime/real-fs.ts', 'runtime/runtime.ts']);

/**
 * Lines allowed elsewhere, each with its reason. records.ts: the codec's default timestamp for
 * callers outside the broker (tests, tools); every broker call passes baseTimestamp from its clock.
 */
const allowedLines: Array<{ file: string; line: RegExp }> = [{ file: 'protocol/records.ts', line: /opts\.baseTimestamp \?\? Date\.now\(\)/ }];

const forbidden: Array<{ what: string; re: RegExp }> = [
  { what: 'Date.now()', re: /\bDate\.now\b/ },
  { what: 'new Date() (the wall clock)', re: /new Date\(\s*\)/ },
  { what: 'performance.now()', re: /\bperformance\.now\b/ },
  { what: 'process.hrtime', re: /\bprocess\.hrtime\b/ },
  { what: 'a global timer', re: /(?<![.\w#])(setTimeout|setInterval|clearTimeout|clearInterval|setImmediate)\s*\(/ },
  { what: 'Math.random', re: /\bMath\.random\b/ },
  { what: 'crypto randomness', re: /\b(randomUUID|randomBytes|randomInt)\b/ },
  { what: 'node:net / node:fs / node:dgram', re: /from ['"](node:)?(net|fs|fs\/promises|dgram)['"]/ },
];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The offending lines of one file's source, comments excluded. */
export function directIo(file: string, source: string): string[] {
  const out: string[] = [];
  source.split('\n').forEach((line, i) => {
    const code = line.replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, '').replace(/\/\*.*?\*\//g, '');
    for (const f of forbidden) {
      if (!f.re.test(code)) continue;
      if (allowedLines.some((a) => a.file === file && a.line.test(code))) continue;
      out.push(`broker/${file}:${i + 1}: ${f.what}: ${line.trim()}`);
    }
  });
  return out;
}

describe('broker I/O goes through the runtime', () => {
  it('no direct clock, timer, socket, file or randomness use outside broker/runtime/real*.ts', () => {
    const found: string[] = [];
    for (const p of files(root)) {
      const rel = relative(root, p).split('\\').join('/');
      if (allowedFiles.has(rel)) continue;
      found.push(...directIo(rel, readFileSync(p, 'utf8')));
    }
    expect(found).toEqual([]);
  });

  it('the grep sees a planted direct use (it is not vacuous)', () => {
    expect(directIo('x.ts', "const t = setTimeout(() => 1, 5);\nimport fs from 'node:fs';\nconst n = Date.now();")).toHaveLength(3);
    expect(directIo('x.ts', 'this.rt.timers.setTimeout(f, 5); // Date.now()')).toEqual([]);
  });
});
