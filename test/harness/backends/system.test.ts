import { describe, expect, it } from 'vitest';
import { clusterIdFor, envName, loadSystem, parseSystem, renderLaunch, shippedSystemPath, shippedSystems, type NodeContext } from '../../../harness/backends/system.ts';

const cluster = [1, 2, 3].map((k) => ({ host: `10.0.0.${10 + k}`, kafkaPort: 9092, controllerPort: 9093 }));
const ctx = (over: Partial<NodeContext> = {}): NodeContext => ({ id: 2, node: 'n2', runId: 'r1', cluster, dataDir: '/d/n2/data', nodeDir: '/d/n2', settings: {}, ...over });

describe('system definitions', () => {
  it('every shipped definition validates, and only faultline claims to be tested here', () => {
    for (const name of shippedSystems) {
      const s = loadSystem(shippedSystemPath(name));
      expect(s.name).toBe(name);
      expect(s.testedHere).toBe(name === 'faultline');
      if (!s.testedHere) expect(s.description).toMatch(/UNTESTED HERE/);
    }
  });

  it("Faultline's definition renders exactly the broker's flags", () => {
    const s = loadSystem(shippedSystemPath('faultline'));
    const l = renderLaunch(s, ctx({ settings: { 'min.insync.replicas': '2' }, bug: 'truncate-to-hw' }));
    expect(l.args).toEqual([
      '--id', '2', '--listen', '10.0.0.12:9092', '--data-dir', '/d/n2/data', '--controller-listen', '10.0.0.12:9093',
      '--voters', '1@10.0.0.11:9093,2@10.0.0.12:9093,3@10.0.0.13:9093', '--advertise', '10.0.0.12:9092',
      '--set', 'min.insync.replicas=2', '--bug', 'truncate-to-hw',
    ]);
    expect(l.env).toEqual({});
  });

  it('a node added beyond the voters renders the brokerOnly args, with the starting nodes as voters; a system without them refuses', () => {
    const s = loadSystem(shippedSystemPath('faultline'));
    const grown = [...cluster, { host: '10.0.0.14', kafkaPort: 9092, controllerPort: 9093 }];
    const l = renderLaunch(s, ctx({ id: 4, node: 'n4', cluster: grown, voterCount: 3, dataDir: '/d/n4/data', nodeDir: '/d/n4' }));
    expect(l.args).toEqual(['--id', '4', '--listen', '10.0.0.14:9092', '--data-dir', '/d/n4/data', '--voters', '1@10.0.0.11:9093,2@10.0.0.12:9093,3@10.0.0.13:9093', '--advertise', '10.0.0.14:9092']);
    // a voter of the grown cluster still renders its own args and the same voters
    expect(renderLaunch(s, ctx({ cluster: grown, voterCount: 3 })).args).toContain('--controller-listen');
    expect(renderLaunch(s, ctx({ cluster: grown, voterCount: 3 })).args).toContain('1@10.0.0.11:9093,2@10.0.0.12:9093,3@10.0.0.13:9093');
    const kraft = loadSystem(shippedSystemPath('kafka-kraft'));
    expect(() => renderLaunch(kraft, ctx({ id: 4, node: 'n4', cluster: grown, voterCount: 3 }))).toThrow(/no "brokerOnly" args/);
  });

  it('Kafka KRaft gets its node id, voters and settings as environment and config lines', () => {
    const s = loadSystem(shippedSystemPath('kafka-kraft'));
    const l = renderLaunch(s, ctx({ settings: { 'log.flush.interval.messages': '1' } }));
    expect(l.env).toMatchObject({ KAFKA_NODE_ID: '2', KAFKA_CONTROLLER_QUORUM_VOTERS: '1@10.0.0.11:9093,2@10.0.0.12:9093,3@10.0.0.13:9093', KAFKA_LOG_FLUSH_INTERVAL_MESSAGES: '1', CLUSTER_ID: clusterIdFor('r1') });
    expect(l.files[0]!.path).toBe('/d/n2/server.properties');
    expect(l.files[0]!.content).toContain('log.flush.interval.messages=1\n');
    expect(clusterIdFor('r1')).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(() => renderLaunch(s, ctx({ bug: 'truncate-to-hw' }))).toThrow(/cannot plant bugs/);
  });

  it('refuses unknown template variables, missing fields and settings a system cannot take', () => {
    expect(() => parseSystem({ name: 'x', docker: { image: 'i' }, args: ['{{nodeId}}'], ports: { kafka: 1, controller: 2 } }, 'x.json')).toThrow(/args\.0: unknown template variable \{\{nodeId\}\}/);
    expect(() => parseSystem({ name: 'x', ports: { kafka: 1, controller: 2 } }, 'x.json')).toThrow(/needs "local".*or "docker"/);
    expect(() => parseSystem({ name: 'x', local: { command: ['x'] } }, 'x.json')).toThrow(/ports/);
    const bare = parseSystem({ name: 'x', local: { command: ['x'] }, ports: { kafka: 1, controller: 2 } }, 'x.json');
    expect(() => renderLaunch(bare, ctx({ settings: { 'a.b': '1' } }))).toThrow(/takes no broker settings, but a.b was given/);
    expect(envName('log.flush.interval-ms')).toBe('LOG_FLUSH_INTERVAL_MS');
  });
});
