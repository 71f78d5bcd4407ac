export { createPagerDutyAdapter, queryIssues, VENDOR } from './adapter.ts'
export { V1_SCHEMA, V1_TABLE, V1_TRACKER, v1IncidentRow } from './v1.ts'
