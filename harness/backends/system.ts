/**
 * A system definition (design.md "CLI", `--system FILE`): how a backend starts one node of some
 * Kafka-compatible system. The backend decides *where* a node runs (a local process, a container);
 * the system definition decides *what* runs there. Format and examples: docs/backends.md.
 *
 * ```
 * { "name": "faultline",
 *   "local":  { "command": ["{{nodeBinary}}", "{{repoRoot}}/bin/faultline.mjs", "broker"] },
 *   "docker": { "image": "faultline-broker", "build": "faultline", "command": ["/usr/local/bin/node", "/opt/faultline/broker.mjs"] },
 *   "args": ["--id", "{{id}}", "--listen", "{{kafkaAddress}}", ...],
 *   "env": { "NAME": "template" },
 *   "configFiles": [{ "path": "{{nodeDir}}/server.properties", "lines": ["node.id={{id}}", "{{settings}}"] }],
 *   "settings": { "args": ["--set", "{{key}}={{value}}"] }   (or "env": {"KAFKA_{{KEY}}": "{{value}}"}, or "lines")
 *   "bug": { "args": ["--bug", "{{bug}}"] },
 *   "ports": { "kafka": 9092, "controller": 9093 },
 *   "dataDir": "/data",   (the docker backend's data volume mount; locally it is `<nodeDir>/data`)
 *   "logFiles": ["{{dataDir}}/logs/server.log"],
 *   "readiness": { "port": "kafka", "timeoutMs": 30000 },
 *   "roles": { "controller": "metadata" | "describe-quorum" },
 *   "brokerOnly": { "args": [...] } }   (optional: the args of a node added as a broker only, not a voter)
 * ```
 *
 * Templates: `{{name}}` is replaced by the node's value of `name` (templateVars lists them all); an
 * unknown name is an error when the definition is loaded, not when a node starts. A template that is
 * exactly `{{settings}}` inside `lines` expands to one line per broker setting. Invariant: every
 * node-specific fact a system needs reaches it through these templates; nothing else about the node
 * is assumed (no flag names, no environment conventions) except the ports it listens on.
 * A node added to a running cluster (the `membership` fault) is a broker only: `{{voters}}` and
 * `{{seeds}}` still name the voters the cluster started with, and its args come from `brokerOnly`
 * (a system without it cannot add nodes: the fault is refused before the cluster starts).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { UsageError } from '../errors.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every name a template may use. */
export const templateVars = [
  'id', // broker id (1, 2, ...)
  'node', // node name (n1, n2, ...)
  'host', // the node's address (namespace or container IP, or 127.0.0.1)
  'kafkaPort',
  'controllerPort',
  'kafkaAddress', // host:kafkaPort
  'controllerAddress', // host:controllerPort
  'voters', // 1@host:controllerPort,2@...  (Faultline --voters, Kafka controller.quorum.voters)
  'seeds', // host:controllerPort,host:... (Redpanda --seeds)
  'bootstrap', // host:kafkaPort,host:...
  'dataDir', // where the node keeps its data (inside the container for docker)
  'nodeDir', // the node's directory in the run directory (local) or /faultline (docker)
  'clusterId', // a 22-character base64url id derived from the run id (Kafka KRaft's CLUSTER_ID)
  'runId',
  'nodeBinary', // this harness's node executable (local)
  'repoRoot', // this checkout (local)
  'key', // (settings templates only) the setting's Kafka name, e.g. log.flush.interval.ms
  'KEY', // (settings templates only) the same as an environment name: LOG_FLUSH_INTERVAL_MS
  'value', // (settings templates only)
  'bug', // (bug templates only)
  'settings', // (configFiles lines only, as a whole line) one line per broker setting
] as const;

export type TemplateVar = (typeof templateVars)[number];
export type TemplateValues = Partial<Record<TemplateVar, string>>;

const templatePattern = /\{\{\s*([A-Za-z]+)\s*\}\}/g;

const template = z.string().superRefine((s, ctx) => {
  for (const m of s.matchAll(templatePattern)) {
    if (!(templateVars as readonly string[]).includes(m[1]!)) {
      ctx.addIssue({ code: 'custom', message: `unknown template variable {{${m[1]}}}; allowed: ${templateVars.join(', ')}` });
    }
  }
});

const argv = z.array(template).min(1);

export const systemSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits, ".", "_" and "-"'),
    description: z.string().optional(),
    /** false for definitions that this project cannot run on its own machines (no image, no package) */
    testedHere: z.boolean().default(false),
    local: z.object({ command: argv }).strict().optional(),
    docker: z
      .object({
        image: z.string().min(1),
        /** `faultline`: the image `faultline image build` makes from this checkout (tag: content hash) */
        build: z.literal('faultline').optional(),
        command: z.array(template).optional(),
        user: z.string().optional(),
      })
      .strict()
      .optional(),
    args: z.array(template).default([]),
    env: z.record(z.string(), template).default({}),
    configFiles: z.array(z.object({ path: template, lines: z.array(template) }).strict()).default([]),
    settings: z
      .object({
        args: z.array(template).optional(),
        env: z.record(z.string(), template).optional(),
        /** only through `{{settings}}` in a config file (the line format, default `{{key}}={{value}}`) */
        line: template.optional(),
      })
      .strict()
      .default({}),
    bug: z.object({ args: z.array(template) }).strict().optional(),
    ports: z.object({ kafka: z.number().int().min(1).max(65535), controller: z.number().int().min(1).max(65535) }).strict(),
    dataDir: z.string().startsWith('/').default('/data'),
    logFiles: z.array(template).default([]),
    readiness: z
      .object({ port: z.enum(['kafka', 'controller']).default('kafka'), timeoutMs: z.number().int().min(100).max(600_000).default(30_000) })
      .strict()
      .default({ port: 'kafka', timeoutMs: 30_000 }),
    roles: z.object({ controller: z.enum(['metadata', 'describe-quorum']) }).strict().default({ controller: 'metadata' }),
    /** a node added to the running cluster as a broker only (not a voter): its args instead of `args` */
    brokerOnly: z.object({ args: z.array(template) }).strict().optional(),
  })
  .strict()
  .refine((s) => s.local !== undefined || s.docker !== undefined, { message: 'a system needs "local" (an executable) or "docker" (an image), or both' });

export type SystemDefinition = z.infer<typeof systemSchema>;

export class SystemError extends UsageError {}

/** Parse a definition (already JSON); every problem in one message with its path. */
export function parseSystem(raw: unknown, source: string): SystemDefinition {
  const r = systemSchema.safeParse(raw);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.length === 0 ? '(top)' : i.path.join('.')}: ${i.message}`);
  throw new SystemError(`system definition ${source} is not valid: ${problems.join('; ')}`);
}

export function loadSystem(path: string): SystemDefinition {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SystemError(`--system ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SystemError(`--system ${path}: not JSON (${(err as Error).message})`);
  }
  return parseSystem(raw, path);
}

/** The shipped definitions, by name (systems/<name>.json of this checkout). */
export const shippedSystems = ['faultline', 'kafka-kraft', 'redpanda'] as const;

export function shippedSystemPath(name: (typeof shippedSystems)[number]): string {
  return join(repoRoot, 'systems', `${name}.json`);
}

/** The built-in default: Faultline's own broker (systems/faultline.json). */
export function defaultSystem(): SystemDefinition {
  return loadSystem(shippedSystemPath('faultline'));
}

/** Replace every `{{name}}`; a name without a value here is an error naming the template. */
export function render(t: string, values: TemplateValues): string {
  return t.replace(templatePattern, (_, name: string) => {
    const v = values[name as TemplateVar];
    if (v === undefined) throw new SystemError(`template '${t}' uses {{${name}}}, which has no value here`);
    return v;
  });
}

/** Kafka setting name as an environment name: `log.flush.interval.ms` -> `LOG_FLUSH_INTERVAL_MS`. */
export function envName(key: string): string {
  return key.replace(/[.-]/g, '_').toUpperCase();
}

/** A stable 22-character base64url cluster id for a run (Kafka's `kafka-storage format -t` format). */
export function clusterIdFor(runId: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (const ch of runId) {
    h1 = Math.imul(h1 ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ ch.charCodeAt(0), 0x85ebca6b) >>> 0;
  }
  const bytes = Buffer.alloc(16);
  for (let i = 0; i < 4; i++) {
    bytes.writeUInt32BE(Math.imul(h1 + i, 0x9e3779b1) >>> 0, i * 4);
    h1 ^= h2;
  }
  return bytes.toString('base64url').slice(0, 22);
}

export interface NodeAddresses {
  host: string;
  kafkaPort: number;
  controllerPort: number;
}

export interface NodeContext {
  id: number;
  node: string;
  runId: string;
  /** every node's addresses, index k-1 for broker id k */
  cluster: readonly NodeAddresses[];
  /** how many of `cluster` (the first ones) are the voters; default all. A node beyond them is a broker only. */
  voterCount?: number;
  dataDir: string;
  nodeDir: string;
  settings: Record<string, string>;
  bug?: string;
  nodeBinary?: string;
  repoRoot?: string;
}

/** Pure: the template values of one node. */
export function nodeValues(c: NodeContext): TemplateValues {
  const me = c.cluster[c.id - 1];
  if (me === undefined) throw new RangeError(`node id ${c.id} outside the cluster of ${c.cluster.length}`);
  const voters = c.cluster.slice(0, c.voterCount ?? c.cluster.length);
  return {
    id: String(c.id),
    node: c.node,
    host: me.host,
    kafkaPort: String(me.kafkaPort),
    controllerPort: String(me.controllerPort),
    kafkaAddress: `${me.host}:${me.kafkaPort}`,
    controllerAddress: `${me.host}:${me.controllerPort}`,
    voters: voters.map((a, k) => `${k + 1}@${a.host}:${a.controllerPort}`).join(','),
    seeds: voters.map((a) => `${a.host}:${a.controllerPort}`).join(','),
    bootstrap: c.cluster.map((a) => `${a.host}:${a.kafkaPort}`).join(','),
    dataDir: c.dataDir,
    nodeDir: c.nodeDir,
    clusterId: clusterIdFor(c.runId),
    runId: c.runId,
    ...(c.nodeBinary === undefined ? {} : { nodeBinary: c.nodeBinary }),
    ...(c.repoRoot === undefined ? {} : { repoRoot: c.repoRoot }),
    ...(c.bug === undefined ? {} : { bug: c.bug }),
  };
}

/** What a backend needs to start one node: argv after the command, environment, files to write. */
export interface NodeLaunch {
  args: string[];
  env: Record<string, string>;
  files: Array<{ path: string; content: string }>;
  logFiles: string[];
}

/**
 * Pure: one node's launch from the definition. Settings go where the definition says (args per
 * setting, env per setting, or lines of a config file through `{{settings}}`); a system that takes
 * none refuses them, and one without `bug` refuses a planted bug, so nothing is silently dropped.
 */
export function renderLaunch(s: SystemDefinition, c: NodeContext): NodeLaunch {
  const v = nodeValues(c);
  const settings = Object.entries(c.settings);
  const perSetting = (key: string, value: string): TemplateValues => ({ ...v, key, KEY: envName(key), value });
  const usesSettingsLine = s.configFiles.some((f) => f.lines.some((l) => l.trim() === '{{settings}}'));
  if (settings.length > 0 && s.settings.args === undefined && s.settings.env === undefined && !usesSettingsLine) {
    throw new SystemError(`system '${s.name}' takes no broker settings, but ${settings.map(([k]) => k).join(', ')} ${settings.length === 1 ? 'was' : 'were'} given`);
  }
  if (c.bug !== undefined && s.bug === undefined) throw new SystemError(`system '${s.name}' cannot plant bugs (--bug ${c.bug}): only Faultline's own broker has the catalogue`);
  const brokerOnly = c.voterCount !== undefined && c.id > c.voterCount;
  if (brokerOnly && s.brokerOnly === undefined) throw new SystemError(`system '${s.name}' cannot add a broker-only node: its definition has no "brokerOnly" args`);
  const args = (brokerOnly ? s.brokerOnly!.args : s.args).map((t) => render(t, v));
  for (const [key, value] of settings) for (const t of s.settings.args ?? []) args.push(render(t, perSetting(key, value)));
  if (c.bug !== undefined) for (const t of s.bug?.args ?? []) args.push(render(t, v));
  const env: Record<string, string> = {};
  for (const [k, t] of Object.entries(s.env)) env[k] = render(t, v);
  for (const [key, value] of settings) for (const [k, t] of Object.entries(s.settings.env ?? {})) env[render(k, perSetting(key, value))] = render(t, perSetting(key, value));
  const files = s.configFiles.map((f) => ({
    path: render(f.path, v),
    content:
      f.lines
        .flatMap((l) => (l.trim() === '{{settings}}' ? settings.map(([key, value]) => render(s.settings.line ?? '{{key}}={{value}}', perSetting(key, value))) : [render(l, v)]))
        .join('\n') + '\n',
  }));
  return { args, env, files, logFiles: s.logFiles.map((t) => render(t, v)) };
}

/** The local command of a system, rendered; a clear error when the system has none or it is not installed. */
export function localCommand(s: SystemDefinition, values: TemplateValues): string[] {
  if (s.local === undefined) throw new SystemError(`system '${s.name}' has no "local" command; run it with --backend docker`);
  return s.local.command.map((t) => render(t, values));
}
