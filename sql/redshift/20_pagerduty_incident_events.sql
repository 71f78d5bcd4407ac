-- One row per incident event of any webhook version (v1, v2, v3), in v3's vocabulary, for
-- analysts: MTTA and MTTR per service come straight from it (sql/queries/mtta_mttr.sql). The
-- same columns, types and rows as sql/postgres/20_pagerduty_incident_events.sql (whose
-- comments say what each column holds), with one difference in how, not what: v3 events
-- that only reference their incident take the service of the incident's latest event that
-- names one through ROW_NUMBER(), as Redshift has no LATERAL. incident_created_at, then
-- agent_type and resolve_reason, are the last columns, as on PostgreSQL (added after app_id).
-- v2's resolve reason is in a SUPER column: read with JSON_SERIALIZE and JSON_EXTRACT_PATH_TEXT
-- (the value is a few hundred bytes), NULL for anything but an object that has a type
-- (null_if_invalid), rather than PartiQL's m."incident.resolve_reason".type, which the
-- PostgreSQL-based test shim (test/helpers/redshift-shim.ts) cannot parse; the same value. A
-- string (the v2 docs' "merged") is its serialized text without the quotes.
-- Late-binding (WITH NO SCHEMA BINDING) so the tables under it can be altered or recreated
-- without dropping it first; every table is schema-qualified, as late binding requires.
CREATE OR REPLACE VIEW atomic.pagerduty_incident_events AS
SELECT
  e.event_id,
  e.collector_tstamp,
  CAST('v1' AS varchar(2)) AS webhook_version,
  CAST(CASE i.type
    WHEN 'trigger' THEN 'incident.triggered'
    WHEN 'acknowledge' THEN 'incident.acknowledged'
    WHEN 'unacknowledge' THEN 'incident.unacknowledged'
    WHEN 'resolve' THEN 'incident.resolved'
    WHEN 'assign' THEN 'incident.reassigned'
    WHEN 'escalate' THEN 'incident.escalated'
    WHEN 'delegate' THEN 'incident.delegated'
    ELSE 'incident.' || i.type
  END AS varchar(255)) AS event_type,
  COALESCE(i.created_on, e.collector_tstamp) AS occurred_at,
  CAST(i."data.incident.id" AS varchar(255)) AS incident_id,
  CAST(i."data.incident.incident_number" AS bigint) AS incident_number,
  CAST(i."data.incident.status" AS varchar(255)) AS incident_status,
  CAST(COALESCE(i."data.incident.trigger_summary_data.subject", i."data.incident.trigger_summary_data.description") AS varchar(1024)) AS incident_title,
  CAST(i."data.incident.urgency" AS varchar(255)) AS urgency,
  CAST(i."data.incident.service.id" AS varchar(255)) AS service_id,
  CAST(i."data.incident.service.name" AS varchar(1024)) AS service_name,
  CAST(i."data.incident.html_url" AS varchar(1024)) AS html_url,
  CAST(i."data.incident.last_status_change_by.id" AS varchar(255)) AS agent_id,
  e.app_id,
  i."data.incident.created_on" AS incident_created_at,
  CAST(CASE WHEN i."data.incident.last_status_change_by.id" IS NOT NULL THEN 'user' END AS varchar(16)) AS agent_type,
  CAST(NULL AS varchar(255)) AS resolve_reason
FROM atomic.events e
JOIN atomic.com_pagerduty_incident_1 i ON i.root_id = e.event_id AND i.root_tstamp = e.collector_tstamp
UNION ALL
SELECT
  e.event_id,
  e.collector_tstamp,
  CAST('v2' AS varchar(2)) AS webhook_version,
  CAST(CASE m.event
    WHEN 'incident.trigger' THEN 'incident.triggered'
    WHEN 'incident.acknowledge' THEN 'incident.acknowledged'
    WHEN 'incident.unacknowledge' THEN 'incident.unacknowledged'
    WHEN 'incident.resolve' THEN 'incident.resolved'
    WHEN 'incident.assign' THEN 'incident.reassigned'
    WHEN 'incident.escalate' THEN 'incident.escalated'
    WHEN 'incident.delegate' THEN 'incident.delegated'
    WHEN 'incident.annotate' THEN 'incident.annotated'
    ELSE m.event
  END AS varchar(255)) AS event_type,
  COALESCE(m.created_on, e.collector_tstamp) AS occurred_at,
  CAST(m."incident.id" AS varchar(255)) AS incident_id,
  CAST(m."incident.incident_number" AS bigint) AS incident_number,
  CAST(m."incident.status" AS varchar(255)) AS incident_status,
  CAST(m."incident.title" AS varchar(1024)) AS incident_title,
  CAST(m."incident.urgency" AS varchar(255)) AS urgency,
  CAST(m."incident.service.id" AS varchar(255)) AS service_id,
  CAST(m."incident.service.name" AS varchar(1024)) AS service_name,
  CAST(m."incident.html_url" AS varchar(1024)) AS html_url,
  CAST(m."log_entries[0].agent.id" AS varchar(255)) AS agent_id,
  e.app_id,
  m."incident.created_at" AS incident_created_at,
  CAST(CASE
    WHEN m."log_entries[0].agent.type" IN ('user_reference', 'user') THEN 'user'
    WHEN m."log_entries[0].agent.type" IN ('service_reference', 'service') THEN 'service'
    WHEN m."log_entries[0].agent.type" LIKE '%integration_reference' OR m."log_entries[0].agent.type" LIKE '%integration' THEN 'integration'
    WHEN m."log_entries[0].agent.type" IS NOT NULL THEN 'other'
  END AS varchar(16)) AS agent_type,
  -- v2's resolve reason is the REST API's object, or the string its webhook docs name ("merged"):
  -- a SUPER string serializes quoted, and is told apart before it is read as an object.
  CAST(CASE
    WHEN JSON_SERIALIZE(m."incident.resolve_reason") = '"merged"' THEN 'merge'
    WHEN JSON_SERIALIZE(m."incident.resolve_reason") LIKE '"%' THEN TRIM(BOTH '"' FROM JSON_SERIALIZE(m."incident.resolve_reason"))
    WHEN JSON_EXTRACT_PATH_TEXT(JSON_SERIALIZE(m."incident.resolve_reason"), 'type', true) = 'merge_resolve_reason' THEN 'merge'
    ELSE JSON_EXTRACT_PATH_TEXT(JSON_SERIALIZE(m."incident.resolve_reason"), 'type', true)
  END AS varchar(255)) AS resolve_reason
FROM atomic.events e
JOIN atomic.com_pagerduty_webhook_v2_message_1 m ON m.root_id = e.event_id AND m.root_tstamp = e.collector_tstamp
UNION ALL
SELECT
  e.event_id,
  e.collector_tstamp,
  CAST('v3' AS varchar(2)) AS webhook_version,
  CAST(v.event_type AS varchar(255)) AS event_type,
  COALESCE(v.occurred_at, e.collector_tstamp) AS occurred_at,
  CAST(v."incident.id" AS varchar(255)) AS incident_id,
  CAST(v."incident.number" AS bigint) AS incident_number,
  CAST(v."incident.status" AS varchar(255)) AS incident_status,
  CAST(v."incident.title" AS varchar(1024)) AS incident_title,
  CAST(v."incident.urgency" AS varchar(255)) AS urgency,
  CAST(CASE WHEN v."service.id" IS NULL THEN s.service_id ELSE v."service.id" END AS varchar(255)) AS service_id,
  CAST(CASE WHEN v."service.id" IS NULL THEN s.service_name ELSE v."service.summary" END AS varchar(1024)) AS service_name,
  CAST(v."incident.html_url" AS varchar(1024)) AS html_url,
  CAST(v."agent.id" AS varchar(255)) AS agent_id,
  e.app_id,
  v."incident.created_at" AS incident_created_at,
  CAST(CASE
    WHEN v."agent.type" IN ('user_reference', 'user') THEN 'user'
    WHEN v."agent.type" IN ('service_reference', 'service') THEN 'service'
    WHEN v."agent.type" LIKE '%integration_reference' OR v."agent.type" LIKE '%integration' THEN 'integration'
    WHEN v."agent.type" IS NOT NULL THEN 'other'
  END AS varchar(16)) AS agent_type,
  CAST(CASE v."incident.resolve_reason.type" WHEN 'merge_resolve_reason' THEN 'merge' ELSE v."incident.resolve_reason.type" END AS varchar(255)) AS resolve_reason
FROM atomic.events e
JOIN atomic.com_pagerduty_webhook_v3_event_1 v ON v.root_id = e.event_id AND v.root_tstamp = e.collector_tstamp
LEFT JOIN (
  -- The incident's latest event that names its service, for an event that names none: a
  -- ROW_NUMBER() subquery where PostgreSQL's view has a LATERAL lookup through its index
  -- (Redshift has neither LATERAL nor indexes, and joins by hash); the same order, so the same row.
  SELECT incident_id, service_id, service_name
  FROM (
    SELECT "incident.id" AS incident_id, "service.id" AS service_id, "service.summary" AS service_name,
      ROW_NUMBER() OVER (PARTITION BY "incident.id" ORDER BY occurred_at DESC NULLS LAST, id DESC) AS latest
    FROM atomic.com_pagerduty_webhook_v3_event_1
    WHERE "incident.id" IS NOT NULL AND "service.id" IS NOT NULL
  ) named
  WHERE latest = 1
) s ON s.incident_id = v."incident.id" AND v."service.id" IS NULL
WHERE v.event_type LIKE 'incident.%'
WITH NO SCHEMA BINDING;
