/**
 * `faultline image build [--system FILE]`: the image a system runs on the docker backend, made offline
 * (harness/backends/docker/image.ts). For Faultline's broker (the default system, or any definition
 * with `"build": "faultline"`) the image is built from this checkout, only when its content hash
 * changed; any other system's image cannot be built here, and the message says how to get it.
 */
import { parseFlags } from '../run/options.ts';
import { UsageError } from '../errors.ts';
import { defaultSystem, loadSystem } from '../backends/system.ts';
import { dockerClient, pingEngine } from '../backends/docker/engine.ts';
import { ensureBrokerImage, imageExists } from '../backends/docker/image.ts';

const usage = 'usage: faultline image build [--system FILE] [--json]';
const spec = { system: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

export async function run(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action === '--help' || action === '-h') {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (action !== 'build') throw new UsageError(`${action === undefined ? 'missing action' : `unknown action '${action}'`}; allowed: build\n${usage}`);
  const { values } = parseFlags(rest, spec);
  if (values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const system = values.system === undefined ? defaultSystem() : loadSystem(String(values.system));
  if (system.docker === undefined) throw new UsageError(`system '${system.name}' has no "docker" image to build`);
  const docker = dockerClient();
  await pingEngine(docker);
  if (system.docker.build !== 'faultline') {
    if (await imageExists(docker, system.docker.image)) {
      process.stdout.write(`${system.docker.image} is on the engine (system '${system.name}' uses it as it is)\n`);
      return 0;
    }
    throw new UsageError(
      `system '${system.name}' runs ${system.docker.image}, which faultline cannot build: pull it (docker pull ${system.docker.image}) where a registry is reachable, or docker load a saved copy${system.testedHere ? '' : `; this definition is untested here`}`,
    );
  }
  const t0 = performance.now();
  const r = await ensureBrokerImage(docker, (m) => process.stderr.write(`${m}\n`));
  const ms = Math.round(performance.now() - t0);
  if (values.json === true) process.stdout.write(JSON.stringify({ image: r.ref, built: r.built, ms }) + '\n');
  else process.stdout.write(r.built ? `built ${r.ref} in ${ms} ms\n` : `${r.ref} is current (the broker's code has not changed)\n`);
  return 0;
}
