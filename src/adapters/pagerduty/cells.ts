/** Reading optional JSON values into table cells: wrong types become NULL, never a throw. */
export type Obj = Record<string, unknown> | null | undefined

export const str = (v: unknown): string | null => (typeof v === 'string' ? v : null)
/** An `integer` column's value: outside its 32-bit range NULL (raw_message keeps the number). */
export const int = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) && v >= -2147483648 && v <= 2147483647 ? v : null)
/** A JSON column's text; absent and null both become NULL. */
export const json = (v: unknown): string | null => (v === undefined || v === null ? null : JSON.stringify(v))
export const obj = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null)
export const field = (o: Obj, key: string): unknown => (o ? o[key] : undefined)
/** `field(field(o, a), b)...` along a path. */
export const at = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((v, key) => field(obj(v), key), o)
