import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { combineRoles, fetchRoles, fetchRolesByMajority, rolesFromMetadata, RolesError } from '../../../harness/backends/roles.ts';
import { freePorts } from '../../../harness/proc/net.ts';

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A server that accepts connections and never answers (a paused or partitioned broker, as a client sees it). */
async function silentServer(): Promise<number> {
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  return addr.port;
}

describe('fetchRoles', () => {
  it('rolesFromMetadata keys partitions as <topic>-<partition> and keeps leaders, replicas and ISR', () => {
    const roles = rolesFromMetadata(2, [
      { name: 'queue', partitions: [{ partitionId: 0, leader: 1, replicas: [1, 2, 3], isr: [1, 2] }, { partitionId: 1, leader: -1, replicas: [2, 3, 1], isr: [] }] },
      { name: 'other', partitions: [{ partitionId: 0, leader: 3, replicas: [3], isr: [3] }] },
    ]);
    expect(roles).toEqual({
      controller: 2,
      leaders: { 'queue-0': 1, 'queue-1': -1, 'other-0': 3 },
      replicas: { 'queue-0': { replicas: [1, 2, 3], isr: [1, 2] }, 'queue-1': { replicas: [2, 3, 1], isr: [] }, 'other-0': { replicas: [3], isr: [3] } },
    });
    expect(rolesFromMetadata(-1, []).controller).toBeNull();
    expect(rolesFromMetadata(null, []).controller).toBeNull();
  });

  it('never hangs: a broker that accepts but never answers gives a RolesError within the bound', async () => {
    const port = await silentServer();
    const t0 = Date.now();
    await expect(fetchRoles([`127.0.0.1:${port}`], ['t'], { timeoutMs: 1_500, requestTimeoutMs: 5_000 })).rejects.toThrow(RolesError);
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('a closed port is an error, not a hang', async () => {
    const [port] = await freePorts(1);
    const t0 = Date.now();
    await expect(fetchRoles([`127.0.0.1:${port}`], undefined, { timeoutMs: 3_000 })).rejects.toThrow(/fetching roles from 127\.0\.0\.1/);
    expect(Date.now() - t0).toBeLessThan(4_000);
    await expect(fetchRoles([])).rejects.toThrow(/at least one bootstrap/);
  });
});

describe('combineRoles (majority of per-node answers)', () => {
  const r = (controller: number | null, leaders: Record<string, number>): ReturnType<typeof rolesFromMetadata> => ({
    controller,
    leaders,
    replicas: Object.fromEntries(Object.entries(leaders).map(([k, l]) => [k, { replicas: [l], isr: [l] }])),
  });

  it('an isolated node with a stale view is outvoted, field by field', () => {
    const combined = combineRoles([r(2, { 't-0': 2, 't-1': 1 }), r(1, { 't-0': 3, 't-1': 1 }), r(1, { 't-0': 3, 't-1': 1 })]);
    expect(combined.controller).toBe(1);
    expect(combined.leaders).toEqual({ 't-0': 3, 't-1': 1 });
    expect(combined.replicas['t-0']).toEqual({ replicas: [3], isr: [3] });
  });

  it('ties go to the smaller id; unknown controllers do not vote; a single answer is kept as is', () => {
    expect(combineRoles([r(3, {}), r(2, {})]).controller).toBe(2);
    expect(combineRoles([r(null, {}), r(null, {}), r(3, {})]).controller).toBe(3);
    expect(combineRoles([r(null, {})]).controller).toBeNull();
    const one = r(1, { 'q-0': 1 });
    expect(combineRoles([one])).toEqual(one);
  });

  it('fetchRolesByMajority rejects only when no node answers', async () => {
    const [a, b] = await freePorts(2);
    await expect(fetchRolesByMajority([`127.0.0.1:${a}`, `127.0.0.1:${b}`], ['t'], { timeoutMs: 2_000 })).rejects.toThrow(/no node answered metadata/);
  });
});

describe('fetchRolesByMajority', () => {
  it('does not wait for a silent (paused) minority once the majority answered; errors only if no one answers', async () => {
    await expect(fetchRolesByMajority([])).rejects.toThrow(/at least one address/);
    // three silent nodes: nobody answers, so it fails within the per-node bound, not later
    const ports = [await silentServer(), await silentServer(), await silentServer()];
    const t0 = Date.now();
    await expect(fetchRolesByMajority(ports.map((p) => `127.0.0.1:${p}`), ['t'], { timeoutMs: 1_000 })).rejects.toThrow(/no node answered/);
    expect(Date.now() - t0).toBeLessThan(2_500);
  });
});
