/**
 * The shape of the facts that scripts/gen-protocol.ts extracts from Kafka's JSON message schemas
 * (apache/kafka clients/src/main/resources/common/message) into generated/messages.ts.
 *
 * Invariants the generator guarantees and the codec relies on:
 * - every version range is inclusive `[min, max]`; an open range ("3+") has max VERSION_MAX; a range
 *   that is absent ("none", or no nullable/tagged versions) is omitted (undefined);
 * - field names are lowerCamelCase; `type` is the element type when `array` is true;
 * - struct types (inline, named or from commonStructs) are resolved inline: `type === 'struct'`
 *   always comes with `fields`;
 * - `default` is the schema's declared default exactly as written ("-1", "null", "0x7fffffff",
 *   "true"); absent means the type's zero value;
 * - tagged fields carry both `tag` and `tagged`.
 */

export const VERSION_MAX = 0x7fff;

export type VersionRange = readonly [min: number, max: number];

export type PrimitiveType =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'int64'
  | 'float64'
  | 'uuid'
  | 'string'
  | 'bytes'
  | 'records';

export type FieldType = PrimitiveType | 'struct';

export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
  readonly array?: true;
  readonly versions: VersionRange;
  readonly nullable?: VersionRange;
  readonly tagged?: VersionRange;
  readonly tag?: number;
  readonly default?: string;
  readonly ignorable?: true;
  /** Field-level override of the message's flexible versions (only RequestHeader.ClientId uses it). */
  readonly flexible?: VersionRange | null;
  readonly fields?: readonly FieldSpec[];
}

export interface MessageSpec {
  readonly fields: readonly FieldSpec[];
}

export interface ApiSpec {
  readonly apiKey: number;
  /** The schema's name without the Request/Response suffix, e.g. "Produce". */
  readonly name: string;
  readonly validVersions: VersionRange;
  /** undefined when no version is flexible. */
  readonly flexibleVersions?: VersionRange;
  readonly request: MessageSpec;
  readonly response: MessageSpec;
}

export interface HeaderSpec {
  readonly validVersions: VersionRange;
  readonly flexibleVersions?: VersionRange;
  readonly fields: readonly FieldSpec[];
}

export function inRange(range: VersionRange | undefined | null, version: number): boolean {
  return range != null && version >= range[0] && version <= range[1];
}
