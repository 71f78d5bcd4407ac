/** Shared by the per-version message builders: outcomes and TypeBox errors as issues. */
import type { TypeCheck } from '@sinclair/typebox/compiler'
import type { TSchema } from '@sinclair/typebox'
import { atomicRow, hierarchyColumns, type BuiltEvent, type RequestContext, type Row, type SchemaKey } from '../../events/event.ts'
import type { Issue } from '../types.ts'

export type MessageOutcome =
  | { ok: true; event: BuiltEvent }
  | { ok: false; reason: string; issues: Issue[] }

/** TypeBox says "Expected union value" for our nullable fields; name the accepted types instead. */
function describeError(schema: TSchema, fallback: string): string {
  const anyOf = (schema as { anyOf?: { type?: string }[] }).anyOf
  const types = anyOf?.map((s) => s.type)
  return types && types.every((t) => typeof t === 'string') ? `Expected ${types.join(' or ')}` : fallback
}

/**
 * Walks `Errors` only after a failed `Check` (the TypeBox hot-path idiom); first 20 distinct
 * issues. TypeBox reports a field once per schema of a union that refuses it (a v3 event
 * without an id read `/event/id: Expected string or integer` twice in bad_rows.detail).
 */
export function schemaIssues<T extends TSchema>(check: TypeCheck<T>, value: unknown, prefix: string): Issue[] {
  const issues: Issue[] = []
  const seen = new Set<string>()
  for (const error of check.Errors(value)) {
    const issue = { path: `${prefix}${error.path}`, message: describeError(error.schema, error.message) }
    const key = `${issue.path}\u0000${issue.message}`
    if (seen.has(key)) continue
    seen.add(key)
    issues.push(issue)
    if (issues.length >= 20) break
  }
  return issues
}

export interface EntityShape { schema: SchemaKey; tracker: string; table: string }

/**
 * One PagerDuty event: its `atomic.events` row and its shredded row, which carries the
 * hierarchy columns, the version's own `columns`, the X-Webhook-Id header and the message as
 * received (`raw`), so no field PagerDuty sends is lost.
 */
export function pagerdutyEvent(shape: EntityShape, eventId: string, ctx: RequestContext, collectorVersion: string, columns: Row, raw: unknown): MessageOutcome {
  // Filled in place: spreading the version's ~40 columns into a new object was a visible
  // part of the accept path's profile.
  const row = hierarchyColumns(eventId, ctx, shape.schema)
  for (const key in columns) row[key] = columns[key] as Row[string]
  row.webhook_id = ctx.webhookId
  row.raw_message = JSON.stringify(raw)
  return {
    ok: true,
    event: {
      eventId,
      rows: [
        { table: 'events', row: atomicRow(ctx, eventId, shape.schema, shape.tracker, collectorVersion) },
        { table: shape.table, row },
      ],
    },
  }
}
