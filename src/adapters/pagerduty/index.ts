export { createPagerDutyAdapter, normalizeQuery, VENDOR } from './adapter.ts'
export { V1_SCHEMA, V1_TABLE, V1_TRACKER, v1IncidentRow } from './v1.ts'
export { V2_SCHEMA, V2_TABLE, V2_TRACKER, v2MessageRow } from './v2.ts'
export { V3_SCHEMA, V3_TABLE, V3_TRACKER, v3EventRow } from './v3.ts'
