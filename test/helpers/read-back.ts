/**
 * Reads a topic from its beginning with a fresh consumer group until every value in `acked` was seen
 * or `boundMs` passed, and returns the acknowledged values it never saw (empty: nothing lost).
 * Real-cluster fault tests end with it: "every acknowledged write reads back".
 */
import type { Kafka } from 'kafkajs';

export async function unreadAcked(kafka: Kafka, topic: string, acked: readonly string[], boundMs = 40_000): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: 'read-back', retry: { retries: 10 } });
  const seen = new Set<string>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.add(message.value?.toString() ?? '') });
    const readBy = Date.now() + boundMs;
    while (Date.now() < readBy && acked.some((v) => !seen.has(v))) await new Promise((r) => setTimeout(r, 300));
  } finally {
    await consumer.disconnect();
  }
  return acked.filter((v) => !seen.has(v));
}
