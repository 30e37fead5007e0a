/**
 * `faultline image build [--system FILE]`: the image a system runs on the docker backend, made offline
 * (harness/backends/docker/image.ts). For Faultline's broker (the default system, or any definition
 * with `"build": "faultline"`) the image is built from this checkout, only when its content hash
 * changed; any other system's image cannot be built here, and the message says how to get it.
 */
import { UsageError } from '../errors.ts';
import { boolOf, helpText, parseCommandLine, stringOf } from '../../broker/flags.ts';
import type { CommandTable } from '../../broker/flags.ts';
import { defaultSystem, loadSystem } from '../backends/system.ts';
import { dockerClient, pingEngine } from '../backends/docker/engine.ts';
import { ensureBrokerImage, imageExists } from '../backends/docker/image.ts';

export const imageTable: CommandTable = {
  command: 'faultline image',
  summary: "build the image a system runs on the docker backend, offline (Faultline's broker: from this checkout, only when its code changed)",
  positionals: [{ name: 'ACTION', help: 'build: make the image (or say it is current)', required: true, values: ['build'] }],
  flags: {
    system: { kind: { type: 'string', allowed: 'a system definition file (systems/*.json)' }, metavar: 'FILE', default: null, defaultText: 'systems/faultline.json', help: 'the system whose image to build' },
    json: { kind: { type: 'boolean' }, help: 'print one JSON object on stdout: image, built, ms' },
  },
};

export async function run(argv: string[]): Promise<number> {
  const { values, help } = parseCommandLine(imageTable, argv);
  if (help) {
    process.stdout.write(`${helpText(imageTable)}\n`);
    return 0;
  }
  const file = stringOf(imageTable, values, 'system');
  const system = file === null ? defaultSystem() : loadSystem(file);
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
  if (boolOf(values, 'json')) process.stdout.write(JSON.stringify({ image: r.ref, built: r.built, ms }) + '\n');
  else process.stdout.write(r.built ? `built ${r.ref} in ${ms} ms\n` : `${r.ref} is current (the broker's code has not changed)\n`);
  return 0;
}
