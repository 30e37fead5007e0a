/**
 * Versions recorded in test.json (`versions`): faultline's own, the client library's and Node's, read
 * from the installed package.json files so a stored run says exactly what produced it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function versionOf(packageJsonPath: string): string {
  try {
    const v = (JSON.parse(readFileSync(packageJsonPath, 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : 'unknown';
  } catch {
    return 'unknown';
  }
}

export function versions(): Record<string, string> {
  const require = createRequire(import.meta.url);
  let kafkajs = 'unknown';
  try {
    kafkajs = versionOf(join(dirname(require.resolve('kafkajs')), 'package.json'));
  } catch {
    kafkajs = 'unknown';
  }
  return { faultline: versionOf(join(repoRoot, 'package.json')), kafkajs, node: process.versions.node };
}
