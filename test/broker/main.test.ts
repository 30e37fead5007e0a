import { describe, expect, it } from 'vitest';
import { BrokerUsageError, parseBrokerArgs, parseHostPort, parseVoterList } from '../../broker/main.ts';

const base = ['--id', '2', '--listen', '127.0.0.1:9092', '--data-dir', '/tmp/x'];

describe('broker command line', () => {
  it('parses a voter with its controller listener and Kafka-named settings', () => {
    const o = parseBrokerArgs([...base, '--controller-listen', '127.0.0.1:9093', '--voters', '1@h1:9093,2@127.0.0.1:9093', '--set', 'num.partitions=3']);
    expect(o.id).toBe(2);
    expect(o.voters.map((v) => v.id)).toEqual([1, 2]);
    expect(o.controllerListen).toEqual({ host: '127.0.0.1', port: 9093 });
    expect(o.config['num.partitions']).toBe(3);
    expect(o.advertise).toEqual(o.listen);
  });
  it('a single node with no --voters is its own quorum', () => {
    const o = parseBrokerArgs(base);
    expect(o.voters.map((v) => v.id)).toEqual([2]);
  });
  it('a node outside --voters is a broker-only observer and takes no controller listener', () => {
    expect(parseBrokerArgs([...base, '--voters', '1@h1:9093']).voters.map((v) => v.id)).toEqual([1]);
    expect(() => parseBrokerArgs([...base, '--voters', '1@h1:9093', '--controller-listen', 'h:1'])).toThrowError(/only for voters/);
  });
  it('refuses bad input naming what is allowed', () => {
    expect(() => parseBrokerArgs(['--listen', 'h:1', '--data-dir', 'd'])).toThrowError(/--id N is required: an integer from 0/);
    expect(() => parseBrokerArgs([...base, '--voters', '1@h:1,2@h:2'])).toThrowError(/--controller-listen HOST:PORT is required/);
    expect(() => parseBrokerArgs([...base, '--set', 'bogus=1'])).toThrowError(/unknown setting 'bogus'/);
    expect(() => parseBrokerArgs([...base, '--log-level', 'loud'])).toThrowError(/allowed: debug, info, warn, error/);
    expect(() => parseBrokerArgs([...base, '--frobnicate'])).toThrowError(BrokerUsageError);
    expect(() => parseHostPort('--listen', 'nohost')).toThrowError(/HOST:PORT/);
    expect(() => parseHostPort('--listen', 'h:70000')).toThrowError(/0-65535/);
    expect(() => parseVoterList('1@h:1,1@h:2')).toThrowError(/twice/);
    expect(() => parseVoterList('x@h:1')).toThrowError(/ID@HOST:PORT/);
  });
});
