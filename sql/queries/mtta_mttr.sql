-- MTTA and MTTR per service, in seconds, from atomic.pagerduty_incident_events (any webhook
-- version, v3 vocabulary). Per incident: MTTA = first acknowledgement - trigger, MTTR =
-- resolution - trigger, using PagerDuty's own event times (occurred_at). Incidents without a
-- trigger event in the table (triggered before the collector ran) are left out; an
-- unacknowledged or unresolved incident counts in `incidents` but not in the mean it lacks.
-- A reopened incident (v3 incident.reopened) counts to its first resolution, also while it
-- is open again; use MAX for the last (the first, until it is resolved again). `::numeric`: before PostgreSQL 14 EXTRACT gives double precision, which
-- ROUND(x, 3) does not take.
WITH incidents AS (
  SELECT
    incident_id,
    -- The service the incident was triggered on (it may move: incident.service_updated).
    COALESCE(MAX(CASE WHEN event_type = 'incident.triggered' THEN service_name END), MAX(service_name)) AS service_name,
    MIN(CASE WHEN event_type = 'incident.triggered' THEN occurred_at END) AS triggered_at,
    MIN(CASE WHEN event_type = 'incident.acknowledged' THEN occurred_at END) AS acknowledged_at,
    MIN(CASE WHEN event_type = 'incident.resolved' THEN occurred_at END) AS resolved_at
  FROM atomic.pagerduty_incident_events
  GROUP BY incident_id
)
SELECT
  service_name,
  COUNT(*) AS incidents,
  ROUND(AVG(EXTRACT(EPOCH FROM acknowledged_at - triggered_at))::numeric, 3) AS mtta_seconds,
  ROUND(AVG(EXTRACT(EPOCH FROM resolved_at - triggered_at))::numeric, 3) AS mttr_seconds
FROM incidents
WHERE triggered_at IS NOT NULL
GROUP BY service_name
ORDER BY service_name;
