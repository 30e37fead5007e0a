/**
 * The generator (scripts/gen-protocol.ts) on a small fixture, and the invariants of the committed
 * generated tables that the codec relies on (see broker/protocol/schema.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { apis, KAFKA_SCHEMA_COMMIT, requestHeader, responseHeader } from '../../../../broker/protocol/generated/messages.ts';
import { type FieldSpec, VERSION_MAX } from '../../../../broker/protocol/schema.ts';
import { buildTables, parseRange, stripComments } from '../../../../scripts/gen-protocol.ts';

describe('generator', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gen-protocol-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('parses version ranges', () => {
    expect(parseRange('3+')).toEqual([3, VERSION_MAX]);
    expect(parseRange('0-7')).toEqual([0, 7]);
    expect(parseRange('5')).toEqual([5, 5]);
    expect(parseRange('none')).toBeUndefined();
    expect(parseRange(undefined)).toBeUndefined();
    expect(() => parseRange('1-')).toThrow();
  });

  it('strips // comments but not // inside strings', () => {
    expect(JSON.parse(stripComments('// head\n{ "a": "http://x", // tail\n "b": 1 }'))).toEqual({ a: 'http://x', b: 1 });
    expect(JSON.parse(stripComments('{ "a": "q\\"//" }'))).toEqual({ a: 'q"//' });
  });

  it('resolves inline, named and common structs, and keeps only facts', () => {
    const request = `// Licensed ...
{
  "apiKey": 77, "type": "request", "name": "FooRequest",
  "validVersions": "0-4", "flexibleVersions": "3+",
  "fields": [
    { "name": "TopicName", "type": "string", "versions": "0+", "nullableVersions": "2+", "default": "null",
      "about": "The // name." },
    { "name": "Parts", "type": "[]Part", "versions": "1+", "ignorable": true, "fields": [
      { "name": "Index", "type": "int32", "versions": "1+" },
      { "name": "Ids", "type": "[]int64", "versions": "1+", "mapKey": true, "entityType": "producerId" }
    ]},
    { "name": "Again", "type": "[]Part", "versions": "2+" },
    { "name": "Leader", "type": "LeaderAndEpoch", "versions": "3+", "taggedVersions": "3+", "tag": 0 }
  ],
  "commonStructs": [
    { "name": "LeaderAndEpoch", "versions": "0+", "fields": [
      { "name": "LeaderId", "type": "int32", "versions": "0+", "default": -1 }
    ]}
  ]
}`;
    const response = `{ "apiKey": 77, "type": "response", "name": "FooResponse", "validVersions": "0-4", "flexibleVersions": "3+",
      "fields": [ { "name": "ErrorCode", "type": "int16", "versions": "0+" } ] }`;
    writeFileSync(join(dir, 'FooRequest.json'), request);
    writeFileSync(join(dir, 'FooResponse.json'), response);
    const [foo] = buildTables(dir, ['Foo']);
    const part = {
      name: 'parts',
      type: 'struct',
      array: true,
      versions: [1, VERSION_MAX],
      ignorable: true,
      fields: [
        { name: 'index', type: 'int32', versions: [1, VERSION_MAX] },
        { name: 'ids', type: 'int64', array: true, versions: [1, VERSION_MAX] },
      ],
    };
    expect(foo).toEqual({
      apiKey: 77,
      name: 'Foo',
      validVersions: [0, 4],
      flexibleVersions: [3, VERSION_MAX],
      request: {
        fields: [
          { name: 'topicName', type: 'string', versions: [0, VERSION_MAX], nullable: [2, VERSION_MAX], default: 'null' },
          part,
          { ...part, name: 'again', versions: [2, VERSION_MAX], ignorable: undefined },
          { name: 'leader', type: 'struct', versions: [3, VERSION_MAX], tagged: [3, VERSION_MAX], tag: 0, fields: [{ name: 'leaderId', type: 'int32', versions: [0, VERSION_MAX], default: '-1' }] },
        ].map((f) => JSON.parse(JSON.stringify(f))),
      },
      response: { fields: [{ name: 'errorCode', type: 'int16', versions: [0, VERSION_MAX] }] },
    });
  });

  it('refuses unknown types and mismatched request/response versions', () => {
    writeFileSync(join(dir, 'BadRequest.json'), '{"apiKey":1,"type":"request","name":"BadRequest","validVersions":"0","flexibleVersions":"none","fields":[{"name":"X","type":"Nope","versions":"0+"}]}');
    writeFileSync(join(dir, 'BadResponse.json'), '{"apiKey":1,"type":"response","name":"BadResponse","validVersions":"0","flexibleVersions":"none","fields":[]}');
    expect(() => buildTables(dir, ['Bad'])).toThrow(/unknown type/);
    writeFileSync(join(dir, 'SkewRequest.json'), '{"apiKey":2,"type":"request","name":"SkewRequest","validVersions":"0-1","flexibleVersions":"none","fields":[]}');
    writeFileSync(join(dir, 'SkewResponse.json'), '{"apiKey":2,"type":"response","name":"SkewResponse","validVersions":"0-2","flexibleVersions":"none","fields":[]}');
    expect(() => buildTables(dir, ['Skew'])).toThrow(/validVersions differ/);
  });
});

describe('committed tables', () => {
  function walk(fields: readonly FieldSpec[], flexible: readonly [number, number] | undefined, where: string): void {
    const names = new Set<string>();
    const tags = new Set<number>();
    for (const f of fields) {
      const at = `${where}.${f.name}`;
      expect(f.name, at).toMatch(/^[a-z][A-Za-z0-9]*$/);
      expect(names.has(f.name), `${at} duplicated`).toBe(false);
      names.add(f.name);
      expect(f.versions[0] <= f.versions[1], at).toBe(true);
      if (f.tagged) {
        expect(f.tag, at).toBeTypeOf('number');
        expect(tags.has(f.tag!), `${at} tag reused`).toBe(false);
        tags.add(f.tag!);
        expect(flexible !== undefined && f.tagged[0] >= flexible[0], `${at} tagged outside flexible versions`).toBe(true);
      }
      expect(f.type === 'struct', at).toBe(f.fields !== undefined);
      if (f.fields) walk(f.fields, flexible, at);
    }
  }

  it('record the source commit', () => {
    expect(KAFKA_SCHEMA_COMMIT).toMatch(/^[0-9a-f]{40}$/);
  });

  it('hold the 25 APIs we serve with consistent field trees', () => {
    expect(apis.map((a) => a.apiKey)).toEqual([0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 22, 23, 32, 43, 45, 46, 55, 60, 64]);
    for (const a of apis) {
      expect(a.validVersions[0] <= a.validVersions[1], a.name).toBe(true);
      walk(a.request.fields, a.flexibleVersions, `${a.name}Request`);
      walk(a.response.fields, a.flexibleVersions, `${a.name}Response`);
    }
  });

  it('hold the header facts (clientId never compact)', () => {
    expect(requestHeader.flexibleVersions).toEqual([2, VERSION_MAX]);
    expect(requestHeader.fields.find((f) => f.name === 'clientId')).toMatchObject({ flexible: null, nullable: [1, VERSION_MAX] });
    expect(responseHeader.flexibleVersions).toEqual([1, VERSION_MAX]);
  });
});
