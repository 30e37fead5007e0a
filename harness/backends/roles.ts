/**
 * `fetchRoles(bootstrap, topics?)`: who is controller and who leads each partition, as the cluster's own
 * Metadata answers say (kafkajs admin: `describeCluster()` -> controller, `fetchTopicMetadata()` ->
 * leader, replicas and ISR per partition).
 *
 * Spec: never hangs. Connection and request timeouts are short, kafkajs retries are off, and the whole
 * call is raced against `timeoutMs` (default 4000); on timeout or error it rejects with a RolesError and
 * disconnects in the background (itself bounded). Keys are "<topic>-<partition>" as in history.jsonl.
 *
 * `fetchRolesByMajority(addresses, topics?)` asks every node on its own (in parallel, same bounds) and
 * keeps, per field, the answer most nodes give: a node cut off by a partition still believes in the old
 * controller and leaders, and must not decide whom the nemesis hits next. Ties go to the smaller id
 * (deterministic). It resolves once a majority of the nodes answered (or all settled), so a paused node
 * does not hold every nemesis round up to the timeout. Rejects only when no node answers.
 */
import { Kafka, logLevel } from 'kafkajs';
import type { Roles } from '../backend.ts';
import { withDeadline } from '../util/time.ts';

export class RolesError extends Error {
  readonly code = 'FAULTLINE_ROLES';
  constructor(message: string) {
    super(message);
    this.name = 'RolesError';
  }
}

export interface FetchRolesOptions {
  timeoutMs?: number;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

interface PartitionMetadataLike {
  partitionId: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

/** Pure: the Roles record from metadata answers. */
export function rolesFromMetadata(
  controller: number | null | undefined,
  topics: Array<{ name: string; partitions: PartitionMetadataLike[] }>,
): Roles {
  const roles: Roles = { controller: typeof controller === 'number' && controller >= 0 ? controller : null, leaders: {}, replicas: {} };
  for (const t of topics) {
    for (const p of t.partitions) {
      const key = `${t.name}-${p.partitionId}`;
      roles.leaders[key] = typeof p.leader === 'number' ? p.leader : -1;
      roles.replicas[key] = { replicas: [...(p.replicas ?? [])], isr: [...(p.isr ?? [])] };
    }
  }
  return roles;
}

function withTimeout<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return withDeadline(p, timeoutMs, what, (m) => new RolesError(m));
}

export async function fetchRoles(bootstrap: string[], topics?: string[], opts: FetchRolesOptions = {}): Promise<Roles> {
  if (bootstrap.length === 0) throw new RolesError('fetchRoles needs at least one bootstrap address');
  const timeoutMs = opts.timeoutMs ?? 4_000;
  const kafka = new Kafka({
    clientId: 'faultline-roles',
    brokers: bootstrap,
    connectionTimeout: opts.connectionTimeoutMs ?? 1_000,
    requestTimeout: opts.requestTimeoutMs ?? 2_000,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin({ retry: { retries: 0 } });
  const work = (async () => {
    await admin.connect();
    const cluster = await admin.describeCluster();
    const meta = topics === undefined || topics.length > 0 ? await admin.fetchTopicMetadata(topics === undefined ? undefined : { topics }) : { topics: [] };
    return rolesFromMetadata(cluster.controller, meta.topics);
  })();
  work.catch(() => {}); // a late rejection after the timeout is not unhandled
  try {
    return await withTimeout(work, timeoutMs, `fetching roles from ${bootstrap.join(',')}`);
  } catch (err) {
    if (err instanceof RolesError) throw err;
    throw new RolesError(`fetching roles from ${bootstrap.join(',')}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    void withTimeout(admin.disconnect(), 2_000, 'disconnect').catch(() => {});
  }
}

function plurality(values: number[]): number | null {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: number | null = null;
  let bestCount = 0;
  for (const [v, c] of [...counts].sort((a, b) => a[0] - b[0])) {
    if (c > bestCount) {
      best = v;
      bestCount = c;
    }
  }
  return best;
}

/** Pure: combine per-node answers, field by field, by plurality (see the module docstring). */
export function combineRoles(answers: readonly Roles[]): Roles {
  const controllers = answers.map((a) => a.controller).filter((c): c is number => c !== null);
  const out: Roles = { controller: plurality(controllers), leaders: {}, replicas: {} };
  const keys = [...new Set(answers.flatMap((a) => Object.keys(a.leaders)))].sort();
  for (const k of keys) {
    const leader = plurality(answers.flatMap((a) => (k in a.leaders ? [a.leaders[k]!] : [])));
    out.leaders[k] = leader ?? -1;
    // replicas and ISR from an answer that agrees with the chosen leader
    const agreeing = answers.find((a) => a.leaders[k] === leader && a.replicas[k] !== undefined) ?? answers.find((a) => a.replicas[k] !== undefined);
    if (agreeing !== undefined) out.replicas[k] = structuredClone(agreeing.replicas[k]!);
  }
  return out;
}

export async function fetchRolesByMajority(addresses: string[], topics?: string[], opts: FetchRolesOptions = {}): Promise<Roles> {
  if (addresses.length === 0) throw new RolesError('fetchRolesByMajority needs at least one address');
  const majority = Math.floor(addresses.length / 2) + 1;
  const answers: Roles[] = [];
  const errors: string[] = [];
  // resolve as soon as a majority answered (a paused node must not hold up every round), else when all settled
  return new Promise<Roles>((resolve, reject) => {
    let settled = 0;
    let done = false;
    const check = (): void => {
      if (done) return;
      if (answers.length >= majority || settled === addresses.length) {
        done = true;
        if (answers.length === 0) reject(new RolesError(`no node answered metadata (${addresses.join(',')}): ${errors[0] ?? 'unknown error'}`));
        else resolve(combineRoles(answers));
      }
    };
    for (const a of addresses) {
      fetchRoles([a], topics, opts).then(
        (r) => {
          settled++;
          answers.push(r);
          check();
        },
        (err: unknown) => {
          settled++;
          errors.push(err instanceof Error ? err.message : String(err));
          check();
        },
      );
    }
  });
}
