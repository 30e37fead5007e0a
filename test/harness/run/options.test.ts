import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../harness/errors.ts';
import { brokerSettings, parseFlags, parseNemesis, runTable, testName, testOptions, validateRunFlags } from '../../../harness/run/options.ts';

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
      uncleanElection: true, idempotence: false, retries: 0, nemesis: ['kill', 'partition'], nemesisIntervalMs: 2_500, timeLimitMs: 15_000, rate: 50,
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
