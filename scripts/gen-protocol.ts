/**
 * Generator: Kafka JSON message schemas -> broker/protocol/generated/messages.ts.
 *
 * Usage: tsx scripts/gen-protocol.ts <schema-dir> [kafka-commit] [out-file]
 *   <schema-dir>    a copy of apache/kafka clients/src/main/resources/common/message
 *   [kafka-commit]  the apache/kafka commit the copy came from (default: `git -C <schema-dir> rev-parse HEAD`)
 *   [out-file]      default broker/protocol/generated/messages.ts
 *
 * The output holds facts only (no prose): per API key its name, validVersions, flexibleVersions and the
 * request and response field trees, plus the request/response header facts, in the shape of
 * broker/protocol/schema.ts. Struct types (inline, named, commonStructs) are resolved inline. The schemas
 * carry `//` comments, which are stripped before JSON.parse (only outside string literals). The set of
 * APIs is the fixed list below; the output is deterministic for a given input.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const API_NAMES = [
  'Produce', 'Fetch', 'ListOffsets', 'Metadata', 'OffsetCommit', 'OffsetFetch', 'FindCoordinator',
  'JoinGroup', 'Heartbeat', 'LeaveGroup', 'SyncGroup', 'DescribeGroups', 'ListGroups', 'ApiVersions',
  'CreateTopics', 'DeleteTopics', 'InitProducerId', 'OffsetForLeaderEpoch', 'DescribeConfigs',
  'ElectLeaders', 'AlterPartitionReassignments', 'ListPartitionReassignments', 'DescribeQuorum', 'DescribeCluster',
  'UnregisterBroker',
] as const;

const VERSION_MAX = 0x7fff;
const PRIMITIVES = new Set(['bool', 'int8', 'int16', 'uint16', 'int32', 'int64', 'float64', 'uuid', 'string', 'bytes', 'records']);

interface RawField {
  name: string;
  type: string;
  versions?: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  default?: string | number | boolean;
  ignorable?: boolean;
  flexibleVersions?: string;
  fields?: RawField[];
}

interface RawSchema {
  apiKey?: number;
  type: string;
  name: string;
  validVersions: string;
  flexibleVersions: string;
  fields: RawField[];
  commonStructs?: { name: string; versions?: string; fields: RawField[] }[];
}

/** Removes `//` comments that are outside string literals. */
export function stripComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === '\\' && i + 1 < text.length) out += text[++i]!;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else {
      out += c;
    }
  }
  return out;
}

/** "3+" -> [3, MAX], "0-7" -> [0, 7], "5" -> [5, 5], "none"/undefined -> undefined. */
export function parseRange(spec: string | undefined): [number, number] | undefined {
  if (spec === undefined || spec === 'none') return undefined;
  const plus = /^(\d+)\+$/.exec(spec);
  if (plus) return [Number(plus[1]), VERSION_MAX];
  const span = /^(\d+)-(\d+)$/.exec(spec);
  if (span) return [Number(span[1]), Number(span[2])];
  if (/^\d+$/.test(spec)) return [Number(spec), Number(spec)];
  throw new Error(`bad version range ${JSON.stringify(spec)}`);
}

function camel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function convertFields(fields: RawField[], structs: Map<string, RawField[]>, where: string): unknown[] {
  return fields.map((f) => convertField(f, structs, `${where}.${f.name}`));
}

function convertField(f: RawField, structs: Map<string, RawField[]>, where: string): Record<string, unknown> {
  const array = f.type.startsWith('[]');
  const base = array ? f.type.slice(2) : f.type;
  const out: Record<string, unknown> = { name: camel(f.name) };
  const versions = parseRange(f.versions);
  if (!versions) throw new Error(`${where}: field without versions`);
  if (PRIMITIVES.has(base)) {
    if (f.fields) throw new Error(`${where}: primitive with fields`);
    out['type'] = base;
  } else {
    const sub = f.fields ?? structs.get(base);
    if (!sub) throw new Error(`${where}: unknown type ${f.type}`);
    out['type'] = 'struct';
  }
  if (array) out['array'] = true;
  out['versions'] = versions;
  const nullable = parseRange(f.nullableVersions);
  if (nullable) out['nullable'] = nullable;
  const tagged = parseRange(f.taggedVersions);
  if (tagged) {
    if (f.tag === undefined) throw new Error(`${where}: taggedVersions without tag`);
    out['tagged'] = tagged;
    out['tag'] = f.tag;
  }
  if (f.default !== undefined) out['default'] = String(f.default);
  if (f.ignorable === true) out['ignorable'] = true;
  if (f.flexibleVersions !== undefined) out['flexible'] = parseRange(f.flexibleVersions) ?? null;
  if (out['type'] === 'struct') out['fields'] = convertFields(f.fields ?? structs.get(base)!, structs, where);
  return out;
}

function collectStructs(schema: RawSchema): Map<string, RawField[]> {
  const structs = new Map<string, RawField[]>();
  for (const s of schema.commonStructs ?? []) structs.set(s.name, s.fields);
  const visit = (fields: RawField[]): void => {
    for (const f of fields) {
      if (f.fields) {
        structs.set(f.type.startsWith('[]') ? f.type.slice(2) : f.type, f.fields);
        visit(f.fields);
      }
    }
  };
  visit(schema.fields);
  for (const s of schema.commonStructs ?? []) visit(s.fields);
  return structs;
}

function load(dir: string, file: string): RawSchema {
  return JSON.parse(stripComments(readFileSync(join(dir, file), 'utf8'))) as RawSchema;
}

function message(schema: RawSchema): { fields: unknown[] } {
  return { fields: convertFields(schema.fields, collectStructs(schema), schema.name) };
}

function header(schema: RawSchema): Record<string, unknown> {
  const out: Record<string, unknown> = { validVersions: parseRange(schema.validVersions) };
  const flex = parseRange(schema.flexibleVersions);
  if (flex) out['flexibleVersions'] = flex;
  out['fields'] = message(schema).fields;
  return out;
}

/** Compact, stable TS literal: one field per line, short arrays inline. */
function literal(value: unknown, indent: string): string {
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== 'object' || v === null)) return `[${value.map((v) => literal(v, indent)).join(', ')}]`;
    const inner = indent + '  ';
    return `[\n${value.map((v) => inner + literal(v, inner)).join(',\n')},\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    const hasNested = entries.some(([, v]) => v !== null && typeof v === 'object' && !(Array.isArray(v) && v.every((x) => typeof x !== 'object')));
    const parts = entries.map(([k, v]) => `${k}: ${literal(v, indent + '  ')}`);
    if (!hasNested) return `{ ${parts.join(', ')} }`;
    return `{\n${parts.map((p) => indent + '  ' + p).join(',\n')},\n${indent}}`;
  }
  return typeof value === 'string' ? `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : String(value);
}

/** The facts for `names` (default: the APIs we serve) as plain data, in the shape of schema.ts. */
export function buildTables(dir: string, names: readonly string[] = API_NAMES): Record<string, unknown>[] {
  const apis: Record<string, unknown>[] = [];
  for (const name of names) {
    const req = load(dir, `${name}Request.json`);
    const res = load(dir, `${name}Response.json`);
    if (req.apiKey === undefined || req.apiKey !== res.apiKey) throw new Error(`${name}: apiKey mismatch`);
    if (req.validVersions !== res.validVersions) throw new Error(`${name}: request/response validVersions differ`);
    if (req.flexibleVersions !== res.flexibleVersions) throw new Error(`${name}: request/response flexibleVersions differ`);
    const api: Record<string, unknown> = { apiKey: req.apiKey, name, validVersions: parseRange(req.validVersions) };
    const flex = parseRange(req.flexibleVersions);
    if (flex) api['flexibleVersions'] = flex;
    api['request'] = message(req);
    api['response'] = message(res);
    apis.push(api);
  }
  return apis;
}

export function generate(dir: string, commit: string): string {
  const apis = buildTables(dir);
  return [
    '/**',
    ' * GENERATED by scripts/gen-protocol.ts from apache/kafka clients/src/main/resources/common/message',
    ` * at commit ${commit}. Do not edit; regenerate instead.`,
    ' * Facts only: see broker/protocol/schema.ts for the shape and its invariants.',
    ' */',
    "import type { ApiSpec, HeaderSpec } from '../schema.ts';",
    '',
    `export const KAFKA_SCHEMA_COMMIT = '${commit}';`,
    '',
    `export const requestHeader: HeaderSpec = ${literal(header(load(dir, 'RequestHeader.json')), '')};`,
    '',
    `export const responseHeader: HeaderSpec = ${literal(header(load(dir, 'ResponseHeader.json')), '')};`,
    '',
    `export const apis: readonly ApiSpec[] = ${literal(apis, '')};`,
    '',
  ].join('\n');
}

function main(argv: string[]): void {
  const [dir, commitArg, outArg] = argv;
  if (!dir) {
    process.stderr.write('usage: tsx scripts/gen-protocol.ts <schema-dir> [kafka-commit] [out-file]\n');
    process.exit(2);
  }
  const commit = commitArg ?? execFileSync('git', ['-C', dir, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  if (!/^[0-9a-f]{40}$/.test(commit)) throw new Error(`not a commit id: ${commit}`);
  const out = resolve(outArg ?? 'broker/protocol/generated/messages.ts');
  writeFileSync(out, generate(dir, commit));
  process.stdout.write(`wrote ${out} (${API_NAMES.length} APIs, apache/kafka@${commit})\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) main(process.argv.slice(2));
