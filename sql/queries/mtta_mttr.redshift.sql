-- MTTA and MTTR per service, in seconds, for Amazon Redshift: the same figures as
-- mtta_mttr.sql (read its header for what is counted), from the same view. It differs in one
-- expression only, the seconds between two timestamps, because on Redshift:
--   * EXTRACT returns an INTEGER for a TIMESTAMP or an INTERVAL, and DOUBLE PRECISION only for
--     a TIMESTAMPTZ (docs.aws.amazon.com/redshift/latest/dg/r_EXTRACT_function.html), so
--     EXTRACT(EPOCH FROM b - a) would drop PagerDuty's milliseconds;
--   * AVG of an integer is an integer (r_AVG.html): the mean itself would be cut.
-- So each time is read as UTC (AT TIME ZONE 'UTC' turns a TIMESTAMP into a TIMESTAMPTZ,
-- r_AT_TIME_ZONE.html; the view's times are UTC), its epoch taken as DOUBLE PRECISION, and the
-- difference cast to DECIMAL before AVG. The query also runs on PostgreSQL, with the same result.
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
),
seconds AS (
  SELECT
    service_name,
    CAST(EXTRACT(EPOCH FROM acknowledged_at AT TIME ZONE 'UTC') - EXTRACT(EPOCH FROM triggered_at AT TIME ZONE 'UTC') AS decimal(18,6)) AS to_acknowledge,
    CAST(EXTRACT(EPOCH FROM resolved_at AT TIME ZONE 'UTC') - EXTRACT(EPOCH FROM triggered_at AT TIME ZONE 'UTC') AS decimal(18,6)) AS to_resolve
  FROM incidents
  WHERE triggered_at IS NOT NULL
)
SELECT
  service_name,
  COUNT(*) AS incidents,
  CAST(ROUND(AVG(to_acknowledge), 3) AS decimal(18,3)) AS mtta_seconds,
  CAST(ROUND(AVG(to_resolve), 3) AS decimal(18,3)) AS mttr_seconds
FROM seconds
GROUP BY service_name
ORDER BY service_name;
