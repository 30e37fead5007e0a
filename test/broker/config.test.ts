import { describe, expect, it } from 'vitest';
import { buildConfig, ConfigError, loadConfig, parseProperties, topicSetting, validateTopicConfigs } from '../../broker/config.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('broker config', () => {
  it('has Kafka defaults where documented', () => {
    const c = buildConfig({});
    expect(c['num.partitions']).toBe(1);
    expect(c['auto.create.topics.enable']).toBe(true);
    expect(c['log.flush.interval.ms']).toBeNull();
    expect(c['broker.session.timeout.ms']).toBe(9000);
    expect(c['unclean.leader.election.enable']).toBe(false);
  });
  it('refuses unknown keys naming the known ones', () => {
    expect(() => buildConfig({ 'num.partitons': '3' })).toThrowError(/unknown setting 'num.partitons'.*num.partitions/);
  });
  it('refuses bad values naming key, value and what is allowed', () => {
    expect(() => buildConfig({ 'num.partitions': '0' })).toThrowError(/'num.partitions' = '0': must be at least 1/);
    expect(() => buildConfig({ 'log.segment.bytes': 'big' })).toThrowError(ConfigError);
    expect(() => buildConfig({ 'auto.create.topics.enable': 'yes' })).toThrowError(/true or false/);
  });
  it('layers defaults < file < --set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flcfg-'));
    const file = join(dir, 'broker.properties');
    writeFileSync(file, '# comment\nnum.partitions=4\nmin.insync.replicas = 2\n');
    const c = loadConfig({ file, sets: ['num.partitions=6', 'log.flush.interval.messages=1'] });
    expect(c['num.partitions']).toBe(6);
    expect(c['min.insync.replicas']).toBe(2);
    expect(c['log.flush.interval.messages']).toBe(1);
  });
  it('parses properties and reports the bad line', () => {
    expect(parseProperties('a=1\nb: 2\n', 'f')).toEqual({ a: '1', b: '2' });
    expect(() => parseProperties('a=1\nnonsense\n', 'f')).toThrowError(/f:2/);
  });
  it('validates topic configs and applies overrides', () => {
    expect(validateTopicConfigs({ 'min.insync.replicas': '2' })).toBeNull();
    expect(validateTopicConfigs({ 'compression.type': 'gzip' })).toMatch(/unsupported topic config 'compression.type'/);
    expect(validateTopicConfigs({ 'retention.ms': '1', 'retention.bytes': '-1', 'cleanup.policy': 'compact', 'delete.retention.ms': '0' })).toBeNull();
    expect(validateTopicConfigs({ 'retention.ms': '-2' })).toMatch(/invalid/);
    expect(validateTopicConfigs({ 'cleanup.policy': 'shred' })).toMatch(/invalid/);
    expect(topicSetting(buildConfig({}), { 'retention.bytes': '4096' }, 'retention.bytes')).toBe(4096);
    expect(topicSetting(buildConfig({}), {}, 'retention.ms')).toBe(604_800_000);
    expect(validateTopicConfigs({ 'min.insync.replicas': 'x' })).toMatch(/invalid/);
    const c = buildConfig({ 'min.insync.replicas': '1' });
    expect(topicSetting(c, { 'min.insync.replicas': '2' }, 'min.insync.replicas')).toBe(2);
    expect(topicSetting(c, {}, 'min.insync.replicas')).toBe(1);
    expect(topicSetting(c, { 'unclean.leader.election.enable': 'true' }, 'unclean.leader.election.enable')).toBe(true);
  });
});
