-- MTTA and MTTR per service, in seconds, for Amazon Redshift: the same figures as
-- mtta_mttr.sql (read its header for what is counted, from when, and per which service),
-- from the same view. It differs in one expression only, the seconds between two timestamps,
-- because on Redshift:
--   * EXTRACT returns an INTEGER for a TIMESTAMP or an INTERVAL, and DOUBLE PRECISION only for
--     a TIMESTAMPTZ (docs.aws.amazon.com/redshift/latest/dg/r_EXTRACT_function.html), so
--     EXTRACT(EPOCH FROM b - a) would drop PagerDuty's milliseconds;
--   * AVG of an integer is an integer (r_AVG.html): the mean itself would be cut.
-- So each time is read as UTC (AT TIME ZONE 'UTC' turns a TIMESTAMP into a TIMESTAMPTZ,
-- r_AT_TIME_ZONE.html; the view's times are UTC), its epoch taken as DOUBLE PRECISION, and the
-- difference cast to DECIMAL before AVG. The query also runs on PostgreSQL, with the same result.
WITH ranked AS (
  SELECT
    incident_id, event_type, occurred_at, incident_created_at, service_id, service_name,
    ROW_NUMBER() OVER (PARTITION BY incident_id ORDER BY CASE WHEN service_id IS NULL THEN 1 ELSE 0 END,
      CASE WHEN event_type = 'incident.triggered' THEN 0 ELSE 1 END, occurred_at, event_id) AS first_service,
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
),
seconds AS (
  SELECT
    service_id,
    CAST(EXTRACT(EPOCH FROM acknowledged_at AT TIME ZONE 'UTC') - EXTRACT(EPOCH FROM started_at AT TIME ZONE 'UTC') AS decimal(18,6)) AS to_acknowledge,
    CAST(EXTRACT(EPOCH FROM resolved_at AT TIME ZONE 'UTC') - EXTRACT(EPOCH FROM started_at AT TIME ZONE 'UTC') AS decimal(18,6)) AS to_resolve
  FROM incidents
  WHERE started_at IS NOT NULL
)
SELECT
  n.service_name,
  s.service_id,
  COUNT(*) AS incidents,
  CAST(ROUND(AVG(to_acknowledge), 3) AS decimal(18,3)) AS mtta_seconds,
  CAST(ROUND(AVG(to_resolve), 3) AS decimal(18,3)) AS mttr_seconds
FROM seconds s
LEFT JOIN ranked n ON n.service_id = s.service_id AND n.latest_name = 1
GROUP BY s.service_id, n.service_name
ORDER BY n.service_name, s.service_id;
