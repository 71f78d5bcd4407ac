/**
 * Iglu self-describing schema metadata (Snowplow's `$schema` + `self`), put on the TypeBox
 * schemas of v2 and v3 so `JSON.stringify(schema)` is the schema an Iglu registry would
 * hold. TypeBox ignores keywords it does not know, so the compiled checks are unchanged.
 */
import type { SchemaKey } from '../../events/event.ts'

export const IGLU_META_SCHEMA = 'http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#'

export function selfDescribing(key: SchemaKey, description: string) {
  return {
    $schema: IGLU_META_SCHEMA,
    description,
    self: { vendor: key.vendor, name: key.name, format: key.format, version: key.version },
    additionalProperties: true,
  }
}

/** `iglu:vendor/name/format/version`, as Snowplow writes schema URIs. */
export const igluUri = (key: SchemaKey): string => `iglu:${key.vendor}/${key.name}/${key.format}/${key.version}`
