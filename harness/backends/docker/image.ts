/**
 * `faultline image build`: the broker's image, made offline (no image registry is needed).
 *
 * Two layers, each tagged by a content hash so it is rebuilt only when what goes into it changed:
 * - `faultline-base:<hash>`: a root filesystem of this machine's `node` binary and the shared libraries
 *   `ldd` says it loads (with the dynamic loader), brought in with `docker import`. Hash: the bytes of
 *   those files. (Where a registry is reachable, `FROM node:20-slim` would do the same job.)
 * - `faultline-broker:<hash>`: `FROM` the base, plus `/opt/faultline/broker.mjs`, the broker (broker/main.ts
 *   and everything it imports) bundled into one ES module with esbuild. Hash: every file under broker/,
 *   package-lock.json (the bundled dependencies), the base's hash and the recipe version below.
 * The broker image also carries the hash as the label `faultline.code-hash`, so `doctor` can tell
 * whether the image on the engine is the one this checkout would build.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import type Docker from 'dockerode';
import tar from 'tar-fs';
import { runChecked } from '../../proc/exec.ts';
import { repoRoot } from '../system.ts';
import { followProgress } from './engine.ts';

/** Bump when the recipe (files, Dockerfile) changes in a way the hashed inputs do not show. */
const recipeVersion = '1';
export const baseRepo = 'faultline-base';
export const brokerRepo = 'faultline-broker';
export const nodeInImage = '/usr/local/bin/node';
export const brokerInImage = '/opt/faultline/broker.mjs';

function sha(parts: Iterable<string | Buffer>): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(typeof p === 'string' ? p : p);
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** The files of the base: node and its libraries, as absolute paths in the image -> host file. */
export async function baseFiles(nodeBinary = process.execPath): Promise<Map<string, string>> {
  const files = new Map<string, string>([[nodeInImage, realpathSync(nodeBinary)]]);
  const out = await runChecked('ldd', [nodeBinary], 10_000);
  for (const line of out.split('\n')) {
    // "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m !== null) files.set(m[1]!, realpathSync(m[1]!));
  }
  return files;
}

export async function baseHash(files?: Map<string, string>): Promise<string> {
  const f = files ?? (await baseFiles());
  return sha([recipeVersion, ...[...f].sort(([a], [b]) => a.localeCompare(b)).flatMap(([inImage, host]) => [inImage, readFileSync(host)])]);
}

/** The hash of the broker's code (what the image tag carries): changes exactly when the bundle's inputs do. */
export async function brokerHash(base?: string): Promise<string> {
  const b = base ?? (await baseHash());
  const broker = filesUnder(join(repoRoot, 'broker'));
  return sha([recipeVersion, b, readFileSync(join(repoRoot, 'package-lock.json')), ...broker.flatMap((p) => [relative(repoRoot, p), readFileSync(p)])]);
}

export async function imageExists(docker: Docker, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

function pack(dir: string): NodeJS.ReadableStream {
  return tar.pack(dir, { map: (h) => ({ ...h, uid: 0, gid: 0, uname: 'root', gname: 'root' }) }) as unknown as NodeJS.ReadableStream;
}

async function buildBase(docker: Docker, files: Map<string, string>, tag: string, log: (m: string) => void): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'faultline-base-'));
  try {
    for (const [inImage, host] of files) {
      const target = join(root, inImage);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(host, target);
    }
    mkdirSync(join(root, 'tmp'), { recursive: true, mode: 0o1777 });
    mkdirSync(join(root, 'data'), { recursive: true });
    log(`importing ${baseRepo}:${tag} (node and ${files.size - 1} libraries)`);
    const [repo, t] = [baseRepo, tag];
    const stream = (await docker.importImage(pack(root), { repo, tag: t } as unknown as Record<string, string>)) as NodeJS.ReadableStream;
    await followProgress(docker, stream);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** broker/main.ts and what it imports, as one ES module (CommonJS dependencies get a require). */
export async function bundleBroker(outFile: string): Promise<void> {
  const { build } = await import('esbuild'); // loaded only when an image is built
  await build({
    entryPoints: [join(repoRoot, 'broker', 'main.ts')],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    banner: { js: "import { createRequire as __faultlineRequire } from 'node:module'; const require = __faultlineRequire(import.meta.url);" },
  });
}

async function buildBroker(docker: Docker, base: string, tag: string, log: (m: string) => void): Promise<void> {
  const ctx = mkdtempSync(join(tmpdir(), 'faultline-image-'));
  try {
    await bundleBroker(join(ctx, 'broker.mjs'));
    writeFileSync(
      join(ctx, 'Dockerfile'),
      [`FROM ${baseRepo}:${base}`, `COPY broker.mjs ${brokerInImage}`, 'WORKDIR /opt/faultline', `LABEL faultline.code-hash=${tag}`, `CMD ["${nodeInImage}", "${brokerInImage}", "--help"]`, ''].join('\n'),
    );
    log(`building ${brokerRepo}:${tag}`);
    const stream = (await docker.buildImage(pack(ctx), { t: `${brokerRepo}:${tag}`, labels: { 'faultline.code-hash': tag } })) as NodeJS.ReadableStream;
    await followProgress(docker, stream);
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

export interface ImageStatus {
  /** the image this checkout needs, `faultline-broker:<hash>` */
  ref: string;
  /** it is on the engine */
  present: boolean;
  /** the newest faultline-broker tag on the engine, when it is not the current one */
  stale: string | null;
}

export async function imageStatus(docker: Docker): Promise<ImageStatus> {
  const ref = `${brokerRepo}:${await brokerHash()}`;
  const present = await imageExists(docker, ref);
  let stale: string | null = null;
  if (!present) {
    const images = await docker.listImages({ filters: JSON.stringify({ reference: [brokerRepo] }) });
    stale = images.sort((a, b) => b.Created - a.Created)[0]?.RepoTags?.[0] ?? null;
  }
  return { ref, present, stale };
}

/** Build what is missing; returns the broker image's reference and whether anything was built. */
export async function ensureBrokerImage(docker: Docker, log: (m: string) => void = () => {}): Promise<{ ref: string; built: boolean }> {
  const files = await baseFiles();
  const base = await baseHash(files);
  const tag = await brokerHash(base);
  const ref = `${brokerRepo}:${tag}`;
  if (await imageExists(docker, ref)) return { ref, built: false };
  if (!(await imageExists(docker, `${baseRepo}:${base}`))) await buildBase(docker, files, base, log);
  await buildBroker(docker, base, tag, log);
  return { ref, built: true };
}
