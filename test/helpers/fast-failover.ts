/**
 * Broker settings for real-cluster fault tests: RF 3 with min.insync 2, no auto-created topics, and
 * failure detection in about a second or three (session, ISR lag, Raft election and fetch timeouts),
 * so a fault's effect and the recovery after it both fit in a short test.
 */
import { fastFailureDetection } from '../../harness/run/options.ts';

export const fastFailoverSettings: Readonly<Record<string, string>> = {
  'default.replication.factor': '3',
  'min.insync.replicas': '2',
  'auto.create.topics.enable': 'false',
  ...fastFailureDetection,
};
