/**
 * The Prometheus text format, version 0.0.4: `# HELP`, `# TYPE`, then `name{label="value"} v`
 * lines. Label values escape backslash, double quote and newline; HELP text escapes
 * backslash and newline (prometheus.io/docs/instrumenting/exposition_formats).
 */
import type { Labels } from './registry.ts'

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

const escapeLabel = (value: string): string => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
const escapeHelp = (value: string): string => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')

/** Go-style float text: integers plain, non-finite values as +Inf, -Inf, NaN. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}

export function formatSample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`)
  return `${name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${formatValue(value)}`
}

export const helpLine = (name: string, help: string): string => `# HELP ${name} ${escapeHelp(help)}`
export const typeLine = (name: string, type: 'counter' | 'gauge' | 'histogram'): string => `# TYPE ${name} ${type}`
