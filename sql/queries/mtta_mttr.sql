-- MTTA and MTTR per service, in seconds, from atomic.pagerduty_incident_events (any webhook
-- version, v3 vocabulary). Per incident: MTTA = first acknowledgement - start, MTTR =
-- resolution - start, using PagerDuty's own event times (occurred_at). The start is the
-- incident's first incident.triggered when one was received, else its creation time
-- (incident_created_at, which every version's incident carries), as in
-- atomic.pagerduty_incidents (sql/postgres/21_pagerduty_incidents.sql says why that order):
-- so an incident whose trigger was never received (the subscription came later, the delivery
-- was lost) counts too; only one with neither (its events only reference it) is left out.
-- An unacknowledged or unresolved incident counts in `incidents` but not in the mean it lacks.
-- A reopened incident (v3 incident.reopened) counts to its first resolution, also while it
-- is open again; use MAX for the last (the first, until it is resolved again).
-- Per service by its id, the one the incident was triggered on (it may move:
-- incident.service_updated; without a trigger, the one its earliest event names), shown with
-- the service's latest name: a renamed service stays one row. `::numeric`: before
-- PostgreSQL 14 EXTRACT gives double precision, which ROUND(x, 3) does not take.
WITH ranked AS (
  SELECT
    incident_id, event_type, occurred_at, incident_created_at, service_id, service_name,
    ROW_NUMBER() OVER (PARTITION BY incident_id ORDER BY CASE WHEN service_id IS NULL THEN 1 ELSE 0 END,
      CASE WHEN event_type = 'incident.triggered' THEN 0 ELSE 1 END, occurred_at, event_id) AS first_service,
    -- A v3 note's service_name is its incident's (the events view looks it up), maybe from
    -- before a rename: an event that carries the incident itself (a status) names it as sent.
    ROW_NUMBER() OVER (PARTITION BY service_id ORDER BY CASE WHEN service_name IS NULL THEN 1 ELSE 0 END,
      CASE WHEN incident_status IS NULL THEN 1 ELSE 0 END, occurred_at DESC, event_id DESC) AS latest_name
  FROM atomic.pagerduty_incident_events
  WHERE incident_id IS NOT NULL
),
incidents AS (
  SELECT
    incident_id,
    MAX(CASE WHEN first_service = 1 THEN service_id END) AS service_id,
    COALESCE(MIN(CASE WHEN event_type = 'incident.triggered' THEN occurred_at END), MIN(incident_created_at)) AS started_at,
    MIN(CASE WHEN event_type = 'incident.acknowledged' THEN occurred_at END) AS acknowledged_at,
    MIN(CASE WHEN event_type = 'incident.resolved' THEN occurred_at END) AS resolved_at
  FROM ranked
  GROUP BY incident_id
)
SELECT
  n.service_name,
  i.service_id,
  COUNT(*) AS incidents,
  ROUND(AVG(EXTRACT(EPOCH FROM acknowledged_at - started_at))::numeric, 3) AS mtta_seconds,
  ROUND(AVG(EXTRACT(EPOCH FROM resolved_at - started_at))::numeric, 3) AS mttr_seconds
FROM incidents i
LEFT JOIN ranked n ON n.service_id = i.service_id AND n.latest_name = 1
WHERE i.started_at IS NOT NULL
GROUP BY i.service_id, n.service_name
ORDER BY n.service_name, i.service_id;
