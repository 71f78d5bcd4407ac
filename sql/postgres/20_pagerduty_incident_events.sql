-- One row per incident event of any webhook version, in v3's vocabulary, for analysts:
-- MTTA and MTTR per service come straight from it (sql/queries/mtta_mttr.sql, the README).
--   * event_type: v1 `type` (stored without its incident. prefix, as Snowplow does) and v2
--     `event` mapped to v3's past-tense names (developer docs, webhooks 01-Overview "Event
--     Types": assign -> reassigned, annotate -> annotated, ...); v3 as sent. service.* v3
--     events are not incident events and are left out.
--   * occurred_at: v1/v2 message created_on, v3 event.occurred_at (when PagerDuty saw the
--     change, not when we received it; collector_tstamp only when missing).
--   * service_id, service_name: v1 data.incident.service, v2 incident.service, v3 the
--     incident's service; v3 events whose data names no service (notes, responders, status
--     updates, custom fields: they only reference the incident) take both from the incident's
--     latest event that names one (ties at the same occurred_at go to the greater event id,
--     so the row is the same on every run, and the same as the ROW_NUMBER() of
--     sql/redshift/'s view).
--   * agent_id: v1 last_status_change_by, v2 the first log entry's agent, v3 event.agent.
--   * incident_created_at: when PagerDuty created the incident (v1 data.incident.created_on,
--     v2 and v3 incident.created_at; whole seconds in PagerDuty's payloads), on every event
--     that carries the incident itself: NULL on the v3 events that only reference it (notes,
--     responders, status updates) and where PagerDuty left it out (some 2021 v3 payloads).
--     So an incident whose incident.triggered was never received still has its start
--     (atomic.pagerduty_incidents.created_at). Added after app_id, last: CREATE OR REPLACE
--     VIEW only adds columns at the end, so an older view is replaced in place.
--   * agent_type: what kind of agent agent_id is, so that analysts can count only what people
--     did (an MTTA of human acknowledgements): 'user' (a person), 'service' (a service:
--     PagerDuty acting for it), 'integration' (an inbound integration: a monitoring tool
--     calling the Events API with its key), 'other' (any other kind PagerDuty names), NULL
--     when the event names no agent. From v3 event.agent.type and v2 log_entries[0].agent.type
--     (user_reference, service_reference, *_integration_reference, ...). v1 names only users
--     (last_status_change_by is a user or null): 'user' when it names one; NULL otherwise,
--     which on a v1 acknowledgement or resolution means no person (an integration's or API
--     call's, or an auto-resolve), and on v3 may mean automation (developer docs, webhooks
--     01-Overview: "null ... might indicate an event triggered via automation").
--   * resolve_reason: why PagerDuty resolved the incident, when it says: 'merge' when it was
--     merged into another (resolve_reason.type merge_resolve_reason, the only reason PagerDuty
--     documents: the merged-away incident is resolved), another type as sent, else NULL. From
--     v3 data.resolve_reason and v2 incident.resolve_reason (read from its JSON column), which
--     is either the REST API's object or, as the v2 webhook docs give it (developer docs,
--     webhooks 09-V2-Overview: "Currently the only valid values are null and "merged""), a
--     string: "merged" is 'merge' too, another string as sent; v1 carries no resolve reason
--     (NULL: a merge delivered in v1 cannot be told from a resolution).
--   agent_type and resolve_reason come after incident_created_at, last, for the same reason.
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
  -- v2's resolve reason is the REST API's object, or the string its webhook docs name ("merged").
  CAST(CASE
    WHEN m."incident.resolve_reason" = '"merged"' THEN 'merge'
    WHEN jsonb_typeof(m."incident.resolve_reason") = 'string' THEN m."incident.resolve_reason" #>> '{}'
    WHEN m."incident.resolve_reason" ->> 'type' = 'merge_resolve_reason' THEN 'merge'
    ELSE m."incident.resolve_reason" ->> 'type'
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
-- The service of an event that names none, looked up per such event through the index on
-- "incident.id". (A join to the whole table's latest-service-per-incident, by DISTINCT ON, was
-- rescanned once per event in the nested loop PostgreSQL picks for large tables, where the
-- join above is estimated at one row: quadratic, more than ten minutes at a million events.)
LEFT JOIN LATERAL (
  SELECT n."service.id" AS service_id, n."service.summary" AS service_name
  FROM atomic.com_pagerduty_webhook_v3_event_1 n
  WHERE v."service.id" IS NULL AND n."incident.id" = v."incident.id" AND n."service.id" IS NOT NULL
  ORDER BY n.occurred_at DESC NULLS LAST, n.id DESC
  LIMIT 1
) s ON true
WHERE v.event_type LIKE 'incident.%';
