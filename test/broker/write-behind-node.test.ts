/**
 * The group commit's invariant on a whole broker node (broker/node.ts, in this process, real TCP and
 * disk): no response leaves the node while a leader append is only in memory. Every socket the
 * Kafka listener accepts is watched at its uncork, the moment a turn's responses are handed to the
 * kernel: the node's write-behind must have nothing pending then. Pipelined acks=1 and acks=all
 * produce requests make the deferral real (fewer writes than appends), so the check is not vacuous.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../../broker/client.ts';
import { buildConfig } from '../../broker/config.ts';
import { createLogger } from '../../broker/logger.ts';
import { BrokerNode } from '../../broker/node.ts';
import { ApiKeys } from '../../broker/protocol/codec.ts';
import { buildBatch } from '../../broker/protocol/records.ts';
import { realNetwork, realRuntime } from '../../broker/runtime/real.ts';
import type { Network } from '../../broker/runtime/runtime.ts';
import { freePort } from '../helpers/broker-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'fl-wb-node-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('write-behind on a broker node', () => {
  it('hands no response to the socket while a leader append is unwritten', async () => {
    let node: BrokerNode | undefined;
    let uncorks = 0;
    const violations: string[] = [];
    const watched: Network = {
      listen: (address, onConnection, onError) =>
        realNetwork.listen(
          address,
          (socket) => {
            const uncork = socket.uncork.bind(socket);
            socket.uncork = () => {
              uncorks++;
              const pending = node?.writeBehind.pendingCount ?? 0;
              if (pending > 0) violations.push(`uncork ${uncorks} with ${pending} segment(s) unwritten`);
              uncork();
            };
            onConnection(socket);
          },
          onError,
        ),
      connect: (host, port) => realNetwork.connect(host, port),
    };
    const port = await freePort();
    node = new BrokerNode(
      {
        id: 1,
        listen: { host: '127.0.0.1', port },
        advertise: { host: '127.0.0.1', port },
        dataDir: join(dir, 'n1'),
        controllerListen: null,
        voters: [{ id: 1, host: '127.0.0.1', port: await freePort() }],
        config: buildConfig({}),
        logLevel: 'error',
        bug: null,
      },
      createLogger('n1', 'error', () => undefined),
      { ...realRuntime, net: watched },
    );
    await node.start();
    const conn = await KafkaConnection.connect('127.0.0.1', port);
    try {
      const created = await conn.request(ApiKeys.CreateTopics, 4, { topics: [{ name: 't', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false }, 15_000);
      expect(created.topics[0].errorCode).toBe(0);
      const produce = (acks: number, i: number): Promise<{ errorCode: number; baseOffset: number }> =>
        conn
          .request(ApiKeys.Produce, 8, { transactionalId: null, acks, timeoutMs: 10_000, topicData: [{ name: 't', partitionData: [{ index: 0, records: buildBatch({ compression: 'none', records: [{ key: null, value: Buffer.from(`v${i}`) }] }) }] }] }, 15_000)
          .then((r) => r.responses[0].partitionResponses[0]);
      // The leader may need a moment after the topic is created: retry the first one until it lands.
      for (let tries = 0; (await produce(1, -1)).errorCode !== 0; tries++) {
        if (tries > 100) throw new Error('partition never got a leader');
        await new Promise((r) => setTimeout(r, 50));
      }
      const writesBefore = node.writeBehind.writes;
      const results = await Promise.all(Array.from({ length: 400 }, (_, i) => produce(i % 2 === 0 ? 1 : -1, i)));
      expect(results.every((r) => r.errorCode === 0)).toBe(true);
      const writes = node.writeBehind.writes - writesBefore;
      // Deferral happened (the 400 appends took fewer writes), and no turn's responses left early.
      expect(writes).toBeGreaterThan(0);
      expect(writes).toBeLessThan(400);
      expect(uncorks).toBeGreaterThan(0);
      expect(violations).toEqual([]);
    } finally {
      conn.close();
      await node.stop();
    }
  });
});
