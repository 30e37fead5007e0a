/**
 * How a leader learns which incarnation of a follower a fetch comes from (KIP-903).
 *
 * Kafka's Fetch v15 carries it in ReplicaState.ReplicaEpoch. We serve Fetch up to v13 (v14+ would
 * have to be implemented in full before they are advertised), so our followers name their broker
 * epoch in the request header's client id instead:
 * `replica-fetcher-<brokerId>-epoch-<brokerEpoch>`. The client id is free-form and ours to choose on
 * internal connections (Kafka's own fetchers name themselves there too); it needs no change to any
 * schema, travels with every fetch of the connection, and a follower opens a new connection when its
 * epoch changes, so a fetch is labelled with the incarnation that sent it. It is trusted only for
 * fetches whose replicaId is the broker it names; any other fetch's epoch is unknown (-1), and the
 * controller never admits a follower to an ISR on an unknown epoch. The Fetch handler reads a v15
 * fetch's ReplicaEpoch as Kafka does, for when v15 is advertised.
 */

const PATTERN = /^replica-fetcher-(\d+)-epoch-(\d+)$/;

export function replicaClientId(brokerId: number, brokerEpoch: number): string {
  return `replica-fetcher-${brokerId}-epoch-${brokerEpoch}`;
}

/** The broker epoch a follower's fetch names, or -1 when it names none (or another broker). */
export function replicaEpochFromClientId(clientId: string | null, replicaId: number): number {
  const m = clientId === null ? null : PATTERN.exec(clientId);
  if (m === null || Number(m[1]) !== replicaId) return -1;
  return Number(m[2]);
}
