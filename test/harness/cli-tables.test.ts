/**
 * The command line as documented: every flag and nemesis name in README.md, docs/cli.md and every
 * `--help` output is run through the parser of its command (a valid value accepted, an invalid one
 * refused with one line), and help and parser are shown to come from the same table.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlagError, helpText, parseCommandLine } from '../../broker/flags.ts';
import type { CommandTable, Flag } from '../../broker/flags.ts';
import { brokerTable } from '../../broker/main.ts';
import { adminTable } from '../../harness/commands/admin.ts';
import { campaignTable } from '../../harness/commands/campaign.ts';
import { checkTable } from '../../harness/commands/check.ts';
import { clusterTable } from '../../harness/commands/cluster.ts';
import { doctorTable } from '../../harness/commands/doctor.ts';
import { huntTable } from '../../harness/commands/hunt.ts';
import { imageTable } from '../../harness/commands/image.ts';
import { linTable } from '../../harness/commands/lin.ts';
import { serveTable } from '../../harness/commands/serve.ts';
import { runTable, validateRunFlags } from '../../harness/run/options.ts';

const tables: Record<string, CommandTable> = {
  run: runTable,
  campaign: campaignTable,
  hunt: huntTable,
  check: checkTable,
  lin: linTable,
  cluster: clusterTable,
  admin: adminTable,
  doctor: doctorTable,
  broker: brokerTable,
  serve: serveTable,
  image: imageTable,
};

/** A value each string flag accepts (free-text rows cannot say one themselves). */
const stringSamples: Record<string, string> = {
  set: 'log.flush.interval.messages=1',
  bootstrap: '127.0.0.1:9092',
  listen: '127.0.0.1:9092',
  advertise: '127.0.0.1:9092',
  'controller-listen': '127.0.0.1:9093',
  voters: '1@127.0.0.1:9093',
  'broker-command': '["node","b.mjs"]',
  initial: '0',
  replicas: '1,2,3',
  system: 'systems/faultline.json',
};

function validSample(name: string, f: Flag): string | null {
  const k = f.kind;
  switch (k.type) {
    case 'boolean':
      return null;
    case 'int':
    case 'number':
      return String(k.max);
    case 'choice':
    case 'list':
      return k.values[k.values.length - 1]!;
    case 'string':
      return stringSamples[name] ?? 'x';
  }
}

function invalidSample(f: Flag): string[] {
  const k = f.kind;
  switch (k.type) {
    case 'boolean':
      return ['=yes'];
    case 'int':
      return [String(k.max + 1), '1.5', String(k.min - 1)];
    case 'number':
      return [String(k.max * 2 + 1), 'abc', '-5'];
    case 'choice':
    case 'list':
      return ['no-such-value'];
    case 'string':
      return [''];
  }
}

/** The least argv the command accepts: its required flags and positionals. */
function baseArgv(t: CommandTable, except?: string): string[] {
  const argv: string[] = [];
  for (const p of t.positionals ?? []) if (p.required) argv.push(p.values?.[0] ?? 'x');
  for (const [name, f] of Object.entries(t.flags)) if (f.required === true && name !== except) argv.push(`--${name}`, validSample(name, f) ?? '');
  return argv;
}

function refusal(t: CommandTable, argv: string[]): string {
  try {
    parseCommandLine(t, argv);
  } catch (err) {
    expect(err).toBeInstanceOf(FlagError);
    const msg = (err as Error).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  throw new Error(`${t.command} ${argv.join(' ')} was accepted`);
}

/** Check one documented flag of a command: accepted with a valid value, refused with an invalid one. */
function walkFlag(t: CommandTable, name: string): void {
  const f = t.flags[name];
  if (f === undefined) throw new Error(`${t.command} documents --${name}, but its parser does not take it`);
  const v = validSample(name, f);
  const argv = [...baseArgv(t, name), `--${name}`, ...(v === null ? [] : [v])];
  expect(() => parseCommandLine(t, argv), `${t.command} ${argv.join(' ')}`).not.toThrow();
  for (const bad of invalidSample(f)) {
    const badArgv = [...baseArgv(t, name), f.kind.type === 'boolean' ? `--${name}${bad}` : `--${name}=${bad}`];
    expect(refusal(t, badArgv)).toMatch(new RegExp(`--${name}`));
  }
}

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const cliDoc = readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8');

/** `faultline <command> ...` lines of the docs (code blocks and inline code), continuation lines joined. */
function documentedInvocations(text: string): Array<{ command: string; line: string }> {
  const out: Array<{ command: string; line: string }> = [];
  let current: { command: string; line: string } | null = null;
  for (const raw of text.split('\n')) {
    const m = /(?:^|`|\s)(?:npx )?faultline ([a-z]+)\b(.*)$/.exec(raw);
    if (m !== null && Object.hasOwn(tables, m[1]!)) {
      current = { command: m[1]!, line: m[2]!.split('`')[0]! };
      out.push(current);
    } else if (current !== null && /^\s{10,}\[?--/.test(raw)) {
      current.line += ` ${raw}`;
    } else current = null;
  }
  return out;
}

/** The code of a markdown text: fenced blocks and inline code spans. */
function codeOf(text: string): string {
  const blocks = [...text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const inline = [...text.replace(/```[\s\S]*?```/g, '').matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
  return [...blocks, ...inline].join('\n');
}

const flagsIn = (s: string): string[] => [...new Set([...s.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!))];

describe('help and parser come from one table', () => {
  for (const [cmd, t] of Object.entries(tables)) {
    it(`${cmd}: every parser flag is in --help, and --help names no flag the parser refuses`, () => {
      const help = helpText(t);
      const inHelp = flagsIn(help);
      for (const name of Object.keys(t.flags)) expect(inHelp, `--${name} missing from ${cmd} --help`).toContain(name);
      for (const name of inHelp) expect(Object.keys(t.flags), `${cmd} --help names --${name}`).toContain(name);
      expect(help.split('\n')[0]).toMatch(new RegExp(`^usage: ${t.command}`));
    });

    it(`${cmd}: every flag its --help prints is accepted with a valid value and refused with an invalid one, in one line`, () => {
      for (const name of flagsIn(helpText(t))) walkFlag(t, name);
    });
  }

  it('campaign --help lists --idempotence (the hand-filtered usage lost it)', () => {
    expect(helpText(campaignTable)).toMatch(/--idempotence/);
  });
});

describe('the documented command line (README.md, docs/cli.md)', () => {
  for (const [doc, text] of [['README.md', readme], ['docs/cli.md', cliDoc]] as const) {
    it(`${doc}: every flag shown with a command is a flag of that command's parser`, () => {
      const invocations = documentedInvocations(text);
      expect(invocations.length).toBeGreaterThan(5);
      // --help is every command's (the parser's own, not a table row)
      for (const { command, line } of invocations) for (const name of flagsIn(line)) if (name !== 'help') walkFlag(tables[command]!, name);
    });

    it(`${doc}: every flag named anywhere is a flag of some command`, () => {
      const all = new Set(['help', ...Object.values(tables).flatMap((t) => Object.keys(t.flags))]);
      for (const name of flagsIn(text)) expect(all, `${doc} names --${name}`).toContain(name);
    });

    it(`${doc}: every --nemesis value shown parses as a run's or campaign's nemesis`, () => {
      let shown = 0;
      for (const m of codeOf(text).matchAll(/--nemesis[ =]([a-z0-9,+-]+)(?=\s*($|\n|[[\]\\`)]|--|\|))/g)) {
        const value = m[1]!;
        if (/^[A-Z]/.test(value) || value === 'none') continue;
        expect(() => parseCommandLine(campaignTable, ['--nemesis', value]), `--nemesis ${value}`).not.toThrow();
        shown++;
      }
      if (doc === 'README.md') expect(shown).toBeGreaterThan(0);
    });
  }

  it('README nemesis table: every fault with every target it lists is a nemesis name the CLI takes', () => {
    const rows = [...readme.matchAll(/^\| `([a-z-]+)` \| [^|]+ \| ([^|]+) \|$/gm)].map((m) => ({ fault: m[1]!, targets: m[2]! }));
    expect(rows.map((r) => r.fault)).toEqual(expect.arrayContaining(['kill', 'pause', 'partition']));
    const targetsOf = (fault: string): string[] => {
      const row = rows.find((r) => r.fault === fault)!;
      const same = /as `([a-z-]+)`/.exec(row.targets);
      if (same !== null) return targetsOf(same[1]!);
      return [...row.targets.matchAll(/`(-[a-z-]+)`/g)].map((m) => m[1]!);
    };
    let walked = 0;
    for (const { fault } of rows) {
      for (const name of [fault, ...targetsOf(fault).map((t) => `${fault}${t}`)]) {
        expect(() => validateRunFlags({ nemesis: name }, () => 1), `--nemesis ${name}`).not.toThrow();
        walked++;
      }
    }
    expect(walked).toBeGreaterThan(30);
    expect(refusal(runTable, ['--nemesis', 'partition-sideways'])).toMatch(/allowed: none, kill/);
  });

  it('docs/cli.md role targets -leader, -controller, -follower, -random work for kill, pause and partition', () => {
    for (const fault of ['kill', 'pause', 'partition']) for (const t of ['leader', 'controller', 'follower', 'random']) expect(() => parseCommandLine(runTable, ['--nemesis', `${fault}-${t}`])).not.toThrow();
  });
});

describe('any refused command line is one line, never a stack', () => {
  const tokens = (t: CommandTable): fc.Arbitrary<string> =>
    fc.oneof(
      fc.constantFrom(...Object.keys(t.flags).map((n) => `--${n}`), '--help', '-h', '--', '-5', '--nope', '-x'),
      fc.string({ maxLength: 12 }),
      fc.integer({ min: -100, max: 100_000 }).map(String),
      fc.double({ noNaN: false }).map(String),
      fc.constantFrom(...Object.keys(t.flags)).chain((n) => fc.string({ maxLength: 8 }).map((v) => `--${n}=${v}`)),
    );
  for (const [cmd, t] of Object.entries(tables)) {
    it(`${cmd}: parse either accepts or throws a one-line FlagError`, () => {
      fc.assert(
        fc.property(fc.array(tokens(t), { maxLength: 8 }), (argv) => {
          try {
            parseCommandLine(t, argv);
          } catch (err) {
            if (!(err instanceof FlagError)) return false;
            return !err.message.includes('\n') && err.message.length > 0;
          }
          return true;
        }),
        { numRuns: 300 },
      );
    });
  }

  it('run: flags that parse either validate into options or give a one-line usage error', () => {
    fc.assert(
      fc.property(fc.array(tokens(runTable), { maxLength: 8 }), (argv) => {
        try {
          const p = parseCommandLine(runTable, argv);
          validateRunFlags(p.values, () => 1);
        } catch (err) {
          return err instanceof FlagError && !err.message.includes('\n');
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });
});
