/**
 * The docker engine connection: one dockerode client, and a bounded probe that turns "no engine" into
 * one clear line saying how to start one (design.md "Environment notes": Debian's docker.io, dockerd
 * as root). Every engine call of the backend is bounded by a deadline (`withDeadline`).
 */
import Docker from 'dockerode';
import { UsageError } from '../../errors.ts';
import { withDeadline } from '../../util/time.ts';

export const dockerSocket = process.env.DOCKER_HOST?.startsWith('unix://') === true ? process.env.DOCKER_HOST.slice('unix://'.length) : '/var/run/docker.sock';

export const engineHelp = 'start one as root with `dockerd &` (Debian: apt-get install docker.io), or set DOCKER_HOST';

export class EngineUnavailableError extends UsageError {
  constructor(detail: string) {
    super(`no docker engine answers at ${dockerSocket} (${detail}): ${engineHelp}`);
    this.name = 'EngineUnavailableError';
  }
}

export function dockerClient(): Docker {
  return new Docker({ socketPath: dockerSocket, timeout: 60_000 });
}

/** The engine's version, or an EngineUnavailableError within timeoutMs. */
export async function pingEngine(docker: Docker, timeoutMs = 5_000): Promise<string> {
  try {
    const v = await withDeadline(docker.version(), timeoutMs, 'asking the docker engine its version');
    return v.Version;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new EngineUnavailableError(code === 'ENOENT' ? 'no socket' : code === 'ECONNREFUSED' ? 'connection refused' : (err as Error).message.split('\n')[0]!);
  }
}

/** Wait for a dockerode progress stream (build, import) to end; rejects with the first error it reports. */
export function followProgress(docker: Docker, stream: NodeJS.ReadableStream, onLine?: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, output: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
        if (err !== null) return reject(err);
        const failed = output.find((o) => o.error !== undefined);
        if (failed !== undefined) return reject(new Error(failed.errorDetail?.message ?? failed.error));
        resolve();
      },
      (event: { stream?: string; status?: string }) => {
        const line = (event.stream ?? event.status ?? '').trim();
        if (line !== '' && onLine !== undefined) onLine(line);
      },
    );
  });
}
