import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../harness/errors.ts';
import { brokerSettings, parseFlags, parseNemesis, runFlags, runSecondsFlags, runTable, storedAsFlags, storedRunOptions, testName, testOptions, validateRunFlags } from '../../../harness/run/options.ts';
import type { Flag } from '../../../broker/flags.ts';

const parse = (argv: string[]) => validateRunFlags(parseFlags(argv, runTable).values, () => 42);

function usageMessage(argv: string[]): string {
  try {
    parse(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`expected a usage error for ${argv.join(' ')}`);
}

describe('run flags', () => {
  it('has defaults for a ~30 s run on 3 nodes and a printed seed', () => {
    const o = parse([]);
    expect(o).toMatchObject({ backend: 'local', nodes: 3, acks: 'all', replicationFactor: 3, minInsync: 2, timeLimitMs: 30_000, nemesis: ['kill'], seed: 42 });
  });

  it('parses every flag', () => {
    const o = parse(['--nodes', '5', '--acks', '1', '--replication-factor', '3', '--min-insync', '1', '--partitions', '4', '--unclean-election',
      '--nemesis', 'kill,partition', '--nemesis-interval', '2.5', '--time-limit', '15', '--rate', '50', '--concurrency', '3', '--seed', '7',
      '--out', '/tmp/x', '--json', '--retries', '0', '--consumers', '3', '--consumer-mode', 'assign', '--consumer-crash-interval', '2.5', '--commit-interval', '0', '--bug', 'truncate-to-hw']);
    expect(o).toEqual({ backend: 'local', nodes: 5, workload: 'queue', acks: '1', replicationFactor: 3, minInsync: 1, partitions: 4,
      uncleanElection: true, idempotence: false, retries: 0, nemesis: ['kill', 'partition'], nemesisIntervalMs: 2_500, nemesisSequence: false, timeLimitMs: 15_000, rate: 50,
      concurrency: 3, consumers: 3, consumerMode: 'assign', consumerCrashIntervalMs: 2_500, commitIntervalMs: 0, seed: 7, bug: 'truncate-to-hw', set: {}, replay: null, system: null, out: '/tmp/x', json: true });
  });

  it('refuses bad values with messages naming what is allowed', () => {
    expect(usageMessage(['--acks', '2'])).toBe("--acks '2' is not allowed; allowed: 0, 1, all");
    expect(parse(['--backend', 'docker']).backend).toBe('docker');
    expect(usageMessage(['--system', '/nonexistent/system.json'])).toMatch(/--system \/nonexistent\/system.json: cannot read it \(ENOENT\)/);
    expect(usageMessage(['--backend', 'k8s'])).toMatch(/allowed: local, docker/);
    expect(usageMessage(['--nodes', '3', '--replication-factor', '4'])).toMatch(/exceeds --nodes 3; allowed: 1 to 3/);
    expect(usageMessage(['--min-insync', '4'])).toMatch(/exceeds --replication-factor 3/);
    expect(usageMessage(['--nemesis', 'kill,flood'])).toMatch(/'flood' is not a known fault; allowed: none, kill, kill-leader, .*pause, .*partition-halves/);
    expect(usageMessage(['--nemesis', 'none,kill'])).toMatch(/cannot be combined/);
    expect(usageMessage(['--idempotence', '--acks', '1'])).toMatch(/--idempotence needs --acks all/);
    expect(usageMessage(['--idempotence', '--retries', '0'])).toMatch(/--idempotence needs --retries 1 or more/);
    expect(usageMessage(['--nodes', 'three'])).toMatch(/--nodes must be an integer from 1 to 9; got 'three'/);
    expect(usageMessage(['--rate', '0'])).toMatch(/--rate must be a number/);
    expect(usageMessage(['--seed=-1'])).toMatch(/--seed must be an integer from 0 to 4294967295/);
    expect(usageMessage(['--consumer-mode', 'both'])).toBe("--consumer-mode 'both' is not allowed; allowed: subscribe, assign, mixed");
    expect(usageMessage(['--consumers', '17'])).toMatch(/--consumers must be an integer from 0 to 16; got '17'/);
    expect(usageMessage(['--bogus'])).toMatch(/unknown flag --bogus \(faultline run --help lists its flags\)/);
    expect(usageMessage(['--time-limt', '5'])).toBe('unknown flag --time-limt; did you mean --time-limit? (faultline run --help lists its flags)');
    expect(usageMessage(['--time-limit', '-5'])).toBe("--time-limit must be a number of seconds from 0.1 to 86400; got '-5'");
    expect(usageMessage(['--time-limit'])).toBe('--time-limit needs a value: a number of seconds from 0.1 to 86400');
    expect(usageMessage(['--out', '--json'])).toBe('--out needs a value: a directory');
    expect(usageMessage(['--nodes', '3', '--nodes', '5'])).toMatch(/--nodes is given twice/);
    expect(usageMessage(['--json=yes'])).toMatch(/--json takes no value/);
    expect(usageMessage(['--nemesis', 'partiton-leader'])).toMatch(/--nemesis 'partiton-leader' is not a known fault; did you mean partition-leader\?; allowed: none, kill/);
    expect(usageMessage(['--bug', 'typo'])).toMatch(/--bug 'typo' is not allowed; allowed: ack-before-replication, /);
    expect(usageMessage(['extra'])).toMatch(/unexpected argument|allowed flags/);
  });

  it('lets the replication factor default down to the node count', () => {
    expect(parse(['--nodes', '1'])).toMatchObject({ replicationFactor: 1, minInsync: 1 });
  });

  it('parses nemesis lists, none, and campaign cells joined by +', () => {
    expect(parseNemesis('none')).toEqual([]);
    expect(parseNemesis('kill+pause')).toEqual(['kill', 'pause']);
    expect(parseNemesis('kill,kill')).toEqual(['kill']);
  });

  it('--nemesis-sequence keeps repeated faults in order, refuses two network faults, and round-trips through test.json', () => {
    expect(parse(['--nemesis', 'stop-leader+stop-leader']).nemesis).toEqual(['stop-leader']);
    const o = parse(['--nemesis', 'pause-follower+stop-leader+stop-leader', '--nemesis-sequence']);
    expect(o).toMatchObject({ nemesis: ['pause-follower', 'stop-leader', 'stop-leader'], nemesisSequence: true });
    expect(validateRunFlags(storedAsFlags(testOptions(o)), () => 42)).toMatchObject({ nemesis: o.nemesis, nemesisSequence: true });
    expect(parse([]).nemesisSequence).toBe(false);
    expect(usageMessage(['--nemesis', 'partition-leader+kill-leader+bandwidth-follower', '--nemesis-sequence'])).toMatch(/--nemesis-sequence: cell 'partition-leader\+kill-leader\+bandwidth-follower': a sequence holds at most one network fault/);
  });

  it('names tests and stores options under camelCase flag names', () => {
    const o = parse(['--acks', '1', '--nemesis', 'kill']);
    expect(testName(o)).toBe('queue-acks1-kill');
    expect(testName({ ...o, nemesis: [] })).toBe('queue-acks1-none');
    const t = testOptions(o);
    expect(t).not.toHaveProperty('out');
    expect(t).not.toHaveProperty('json');
    for (const k of ['acks', 'nodes', 'replicationFactor', 'minInsync', 'uncleanElection', 'idempotence', 'nemesis', 'seed', 'backend', 'partitions', 'timeLimit', 'rate', 'concurrency', 'nemesisInterval', 'retries', 'workload']) {
      expect(t).toHaveProperty(k);
    }
  });

  it('derives Kafka-named broker settings', () => {
    const s = brokerSettings(parse(['--min-insync', '1', '--unclean-election']));
    expect(s['min.insync.replicas']).toBe('1');
    expect(s['unclean.leader.election.enable']).toBe('true');
    expect(s['default.replication.factor']).toBe('3');
  });
});

/**
 * Seconds exist only at the CLI boundary (issue 12 "Shape"): a seconds flag becomes a `...Ms` option
 * once, and test.json (and campaign.json / hunt.json `options`) store it back in seconds under the
 * flag's name, which `--replay` reads back through the flags. A slip at either end (a dropped or
 * doubled conversion) shows here as a factor of 1000.
 */
describe('seconds at the boundary, milliseconds inside', () => {
  const secondsRows = Object.entries(runFlags as Record<string, Flag>).filter(([, f]) => f.kind.type === 'number' && f.kind.unit === 's');

  it('every seconds flag of the run table is read into a ...Ms option and stored under its camelCase name', () => {
    expect(secondsRows.map(([name]) => name).sort()).toEqual(Object.keys(runSecondsFlags).sort());
    const o = parse([]) as unknown as Record<string, unknown>;
    for (const [name, row] of Object.entries(runSecondsFlags)) {
      expect(row.option, name).toMatch(/Ms$/);
      expect(row.stored, name).toBe(name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()));
      expect(o[row.option], name).toBe(Number((runFlags as Record<string, Flag>)[name]!.default) * 1000);
      expect(o, name).not.toHaveProperty(row.stored);
    }
  });

  it('--time-limit 2 is 2000 ms of load (not 2 ms, not 2000 s), and test.json still says 2 seconds', () => {
    const o = parse(['--time-limit', '2', '--nemesis-interval', '0.5', '--consumer-crash-interval', '1.5', '--commit-interval', '0.2']);
    expect(o).toMatchObject({ timeLimitMs: 2_000, nemesisIntervalMs: 500, consumerCrashIntervalMs: 1_500, commitIntervalMs: 200 });
    expect(testOptions(o)).toMatchObject({ timeLimit: 2, nemesisInterval: 0.5, consumerCrashInterval: 1.5, commitInterval: 0.2 });
    for (const k of ['timeLimitMs', 'nemesisIntervalMs', 'consumerCrashIntervalMs', 'commitIntervalMs']) expect(testOptions(o)).not.toHaveProperty(k);
    // campaign.json and hunt.json `options` are the same stored form, with out and json
    expect(storedRunOptions(o)).toMatchObject({ timeLimit: 2, out: 'results', json: false });
  });

  it('parse flags -> test.json -> replay flags gives identical milliseconds, and test.json holds the seconds given', () => {
    // any seconds value of the rows' ranges to the millisecond, as a user types it
    const secondsOf = (name: keyof typeof runSecondsFlags) => {
      const k = (runFlags as Record<string, Flag>)[name]!.kind as { min: number; max: number };
      return fc.integer({ min: Math.ceil(k.min * 1000), max: Math.min(k.max * 1000, 3_600_000) }).map((ms) => ms / 1000);
    };
    fc.assert(
      fc.property(secondsOf('time-limit'), secondsOf('nemesis-interval'), secondsOf('consumer-crash-interval'), secondsOf('commit-interval'), (tl, ni, cci, ci) => {
        const given = { 'time-limit': String(tl), 'nemesis-interval': String(ni), 'consumer-crash-interval': String(cci), 'commit-interval': String(ci) };
        const o = validateRunFlags(given, () => 5);
        expect(o).toMatchObject({ timeLimitMs: Math.round(tl * 1000), nemesisIntervalMs: Math.round(ni * 1000), consumerCrashIntervalMs: Math.round(cci * 1000), commitIntervalMs: Math.round(ci * 1000) });
        const stored = JSON.parse(JSON.stringify(testOptions(o))) as Record<string, unknown>;
        expect(stored).toMatchObject({ timeLimit: tl, nemesisInterval: ni, consumerCrashInterval: cci, commitInterval: ci });
        const again = validateRunFlags(storedAsFlags(stored), () => 6);
        expect(again).toEqual({ ...o, out: again.out, json: again.json });
      }),
      { numRuns: 200 },
    );
  });
});
