-- One row per incident event of any webhook version, in v3's vocabulary, for analysts:
-- MTTA and MTTR per service come straight from it (see the README). The same view as
-- sql/postgres/20_pagerduty_incident_events.sql, late-binding (WITH NO SCHEMA BINDING) so
-- the tables under it can be altered or recreated without dropping it first.
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
  CAST(i."data.incident.service.name" AS varchar(255)) AS service_name,
  CAST(i."data.incident.html_url" AS varchar(1024)) AS html_url,
  CAST(i."data.incident.last_status_change_by.id" AS varchar(255)) AS agent_id,
  e.app_id
FROM atomic.events e
JOIN atomic.com_pagerduty_incident_1 i ON i.root_id = e.event_id AND i.root_tstamp = e.collector_tstamp
WITH NO SCHEMA BINDING;
