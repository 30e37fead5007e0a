/**
 * Broker settings for real-cluster fault tests: RF 3 with min.insync 2, no auto-created topics, and
 * failure detection in about a second or three (session, ISR lag, Raft election and fetch timeouts),
 * so a fault's effect and the recovery after it both fit in a short test.
 */
export const fastFailoverSettings: Readonly<Record<string, string>> = {
  'default.replication.factor': '3',
  'min.insync.replicas': '2',
  'auto.create.topics.enable': 'false',
  'broker.session.timeout.ms': '3000',
  'broker.heartbeat.interval.ms': '500',
  'replica.lag.time.max.ms': '3000',
  'controller.quorum.election.timeout.ms': '1000',
  'controller.quorum.fetch.timeout.ms': '2000',
  'replica.fetch.backoff.ms': '100',
};
