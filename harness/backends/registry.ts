/**
 * The backend registry (style.md item 2): where nodes run, by name, validated by the `--backend` flag.
 * A backend says *where* commands run (local processes, docker containers, later remote hosts); the
 * system definition (system.ts) says *what* runs there, so any system runs on any backend that has the
 * definition's `local` command or `docker` image. The docker backend is loaded only when asked for, so
 * a local run never loads dockerode.
 */
import type { Backend, BackendName } from '../backend.ts';

export type BackendFactory = () => Promise<Backend>;

export const backendRegistry = {
  local: async () => (await import('./local.ts')).createLocalBackend(),
  docker: async () => (await import('./docker/backend.ts')).createDockerBackend(),
} as const satisfies Record<BackendName, BackendFactory>;

export const backendNames = Object.keys(backendRegistry) as BackendName[];

/**
 * Refuse at once (before a run directory exists) when the backend cannot work here at all: for
 * docker, no engine answering (one line saying how to start one). Other limits are refused per fault.
 */
export async function preflightBackend(name: BackendName): Promise<void> {
  if (name !== 'docker') return;
  const { dockerClient, pingEngine } = await import('./docker/engine.ts');
  await pingEngine(dockerClient());
}

export function createBackend(name: BackendName): Promise<Backend> {
  return backendRegistry[name]();
}
