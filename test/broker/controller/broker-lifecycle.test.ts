/**
 * BrokerLifecycle (broker/controller/broker-lifecycle.ts) against a fake controller: registration,
 * heartbeats, and controlled shutdown (approved, timed out, and a stale epoch on the way out).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerLifecycle } from '../../../broker/controller/broker-lifecycle.ts';
import { MetadataImage } from '../../../broker/controller/image.ts';

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined };

function lifecycle(answer: (req: any, calls: Array<{ method: string; params: any }>) => unknown) {
  const calls: Array<{ method: string; params: any }> = [];
  const lc = new BrokerLifecycle({
    brokerId: 7,
    incarnationId: 'inc',
    advertise: { host: 'h', port: 1 },
    heartbeatIntervalMs: 20,
    sessionTimeoutMs: 1500,
    call: async (method, params) => {
      calls.push({ method, params });
      if (method === 'registerBroker') return { errorCode: 'NONE', brokerEpoch: 42 };
      return answer(params, calls);
    },
    image: () => new MetadataImage(),
    logger: quiet,
  });
  return { lc, calls };
}

const until = async (cond: () => boolean, timeoutMs = 2000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
};

let stop: (() => void) | null = null;
afterEach(() => stop?.());

describe('BrokerLifecycle', () => {
  it('registers, heartbeats, and on controlled shutdown asks with wantShutDown until the controller approves', async () => {
    let asked = 0;
    const { lc, calls } = lifecycle((req) => {
      if (req.wantShutDown) asked++;
      return { errorCode: 'NONE', isFenced: req.wantShutDown, shouldShutDown: asked >= 3 };
    });
    stop = () => lc.stop();
    lc.start();
    await until(() => lc.brokerEpoch === 42 && calls.some((c) => c.method === 'heartbeat'));
    expect(calls.find((c) => c.method === 'heartbeat')?.params).toMatchObject({ brokerId: 7, brokerEpoch: 42, wantShutDown: false });
    await expect(lc.controlledShutdown(5000)).resolves.toBe(true);
    expect(asked).toBe(3);
    const n = calls.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(calls.length).toBe(n);
  });

  it('stops waiting after the timeout when the controller never approves', async () => {
    const { lc } = lifecycle(() => ({ errorCode: 'NONE', isFenced: true, shouldShutDown: false }));
    stop = () => lc.stop();
    lc.start();
    await until(() => lc.brokerEpoch === 42);
    const t0 = Date.now();
    await expect(lc.controlledShutdown(150)).resolves.toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('never registers again while shutting down', async () => {
    const { lc, calls } = lifecycle((req) => (req.wantShutDown ? { errorCode: 'STALE_BROKER_EPOCH', isFenced: true, shouldShutDown: false } : { errorCode: 'NONE', isFenced: false, shouldShutDown: false }));
    stop = () => lc.stop();
    lc.start();
    await until(() => lc.brokerEpoch === 42);
    await expect(lc.controlledShutdown(5000)).resolves.toBe(false);
    expect(calls.filter((c) => c.method === 'registerBroker')).toHaveLength(1);
  });

  it('does not wait when the broker never registered', async () => {
    const { lc } = lifecycle(() => ({ errorCode: 'NONE', isFenced: true, shouldShutDown: false }));
    await expect(lc.controlledShutdown(5000)).resolves.toBe(false);
  });
});
