-- One row per incident, of any webhook version, from atomic.pagerduty_incident_events: when it
-- was triggered, first acknowledged and first resolved, by whom, the seconds between, and what
-- it looks like now. For analysts who want the incident history without writing the
-- aggregation (the MTTA/MTTR of sql/queries/mtta_mttr.sql are averages of its seconds, per
-- the service an incident was triggered on).
--   * triggered_at: its first incident.triggered; acknowledged_at / resolved_at: its first
--     incident.acknowledged / incident.resolved (after an unacknowledge or a reopen, the later
--     ones do not count); acknowledged_by / resolved_by: the agent of that event (a user or
--     integration id: v1 last_status_change_by, v2 the first log entry's agent, v3 event.agent).
--   * created_at: when PagerDuty created the incident, from any of its events
--     (the events view's incident_created_at), so known when its trigger was not received
--     (the subscription was made after the trigger, or the delivery was lost upstream).
--   * seconds_to_acknowledge / seconds_to_resolve: from triggered_at when a trigger was
--     received, else from created_at, with PagerDuty's milliseconds; NULL when either end is
--     missing (no trigger and no creation time: only events that reference the incident).
--     PagerDuty measures its own MTTA from the incident's creation, and its trigger is that
--     same moment (the incident's first log entry). The trigger comes first because v3's
--     occurred_at has milliseconds where every version's created_at is whole seconds, and so
--     an incident whose trigger was received keeps the figures it had before created_at was
--     read. `triggered_at IS NULL AND created_at IS NOT NULL`: measured from the creation.
--   * incident_title, incident_status, urgency, service_id / service_name, html_url: from its
--     latest event that has one (by occurred_at; at the same occurred_at, a resolution is
--     later and a trigger earlier than any other event, then the greater event id: so an
--     incident triggered and resolved in one second reads resolved), so a v3 note
--     (which names no status) or an incident moved to another service reads as PagerDuty shows
--     it now; app_id and webhook_version: of its latest event.
--   * events, first_event_at, last_event_at: how many incident events the tables hold for it.
--   * acknowledged_by_type / resolved_by_type: the events view's agent_type of that first
--     acknowledgement / resolution: 'user' (a person), 'service', 'integration', 'other', or
--     NULL when PagerDuty named no agent (v1: no user; v3: maybe automation). An MTTA of what
--     people did: the seconds_to_acknowledge of rows WHERE acknowledged_by_type = 'user' (an
--     incident first acknowledged by an integration then counts as not acknowledged by a
--     person; the events view's agent_type gives a person's first acknowledgement of it).
--   * resolve_reason: that first resolution's reason (the events view's): 'merge' when
--     PagerDuty resolved the incident by merging it into another, which ends the incident
--     without fixing anything. An MTTR without merged incidents: WHERE COALESCE(resolve_reason,
--     '') <> 'merge'. v1 carries no reason, so a merge delivered only in v1 reads as a
--     resolution (NULL).
--   created_at, then acknowledged_by_type, resolved_by_type and resolve_reason, are the last
--   columns: added since the view's first version, in that order.
-- Each value is read off one row per incident by ROW_NUMBER(), written so that Redshift runs
-- this same file, late-binding (WITH NO SCHEMA BINDING, added by src/db/migrate.ts), like the
-- view it reads: `DB_DIALECT=redshift collector migrate --print` shows it.
CREATE OR REPLACE VIEW atomic.pagerduty_incidents AS
WITH ranked AS (
  SELECT
    event_id, event_type, occurred_at, incident_id, incident_number, incident_title, incident_status,
    urgency, service_id, service_name, html_url, agent_id, app_id, webhook_version, incident_created_at,
    agent_type, resolve_reason,
    ROW_NUMBER() OVER (PARTITION BY incident_id ORDER BY occurred_at DESC, step DESC, event_id DESC) AS latest,
    ROW_NUMBER() OVER (PARTITION BY incident_id ORDER BY CASE WHEN incident_title IS NULL THEN 1 ELSE 0 END, occurred_at DESC, step DESC, event_id DESC) AS latest_title,
    ROW_NUMBER() OVER (PARTITION BY incident_id ORDER BY CASE WHEN incident_status IS NULL THEN 1 ELSE 0 END, occurred_at DESC, step DESC, event_id DESC) AS latest_status,
    ROW_NUMBER() OVER (PARTITION BY incident_id ORDER BY CASE WHEN urgency IS NULL THEN 1 ELSE 0 END, occurred_at DESC, step DESC, event_id DESC) AS latest_urgency,
    ROW_NUMBER() OVER (PARTITION BY incident_id ORDER BY CASE WHEN service_id IS NULL AND service_name IS NULL THEN 1 ELSE 0 END, occurred_at DESC, step DESC, event_id DESC) AS latest_service,
    ROW_NUMBER() OVER (PARTITION BY incident_id ORDER BY CASE WHEN html_url IS NULL THEN 1 ELSE 0 END, occurred_at DESC, step DESC, event_id DESC) AS latest_url,
    ROW_NUMBER() OVER (PARTITION BY incident_id, event_type ORDER BY occurred_at, event_id) AS first_of_type
  FROM (
    SELECT
      event_id, event_type, occurred_at, incident_id, incident_number, incident_title, incident_status,
      urgency, service_id, service_name, html_url, agent_id, app_id, webhook_version, incident_created_at,
      agent_type, resolve_reason,
      -- Within one instant (v1/v2 times are whole seconds; PagerDuty batches changes made in
      -- quick succession), a trigger came before and a resolution after anything else.
      CASE event_type WHEN 'incident.triggered' THEN 0 WHEN 'incident.resolved' THEN 2 ELSE 1 END AS step
    FROM atomic.pagerduty_incident_events ev
    WHERE incident_id IS NOT NULL
  ) stepped
),
incidents AS (
  SELECT
    incident_id,
    MAX(incident_number) AS incident_number,
    MAX(CASE WHEN latest_title = 1 THEN incident_title END) AS incident_title,
    MAX(CASE WHEN latest_status = 1 THEN incident_status END) AS incident_status,
    MAX(CASE WHEN latest_urgency = 1 THEN urgency END) AS urgency,
    MAX(CASE WHEN latest_service = 1 THEN service_id END) AS service_id,
    MAX(CASE WHEN latest_service = 1 THEN service_name END) AS service_name,
    MAX(CASE WHEN latest_url = 1 THEN html_url END) AS html_url,
    MAX(CASE WHEN latest = 1 THEN app_id END) AS app_id,
    MAX(CASE WHEN latest = 1 THEN webhook_version END) AS webhook_version,
    MAX(CASE WHEN event_type = 'incident.triggered' AND first_of_type = 1 THEN occurred_at END) AS triggered_at,
    MAX(CASE WHEN event_type = 'incident.acknowledged' AND first_of_type = 1 THEN occurred_at END) AS acknowledged_at,
    MAX(CASE WHEN event_type = 'incident.acknowledged' AND first_of_type = 1 THEN agent_id END) AS acknowledged_by,
    MAX(CASE WHEN event_type = 'incident.resolved' AND first_of_type = 1 THEN occurred_at END) AS resolved_at,
    MAX(CASE WHEN event_type = 'incident.resolved' AND first_of_type = 1 THEN agent_id END) AS resolved_by,
    COUNT(*) AS events,
    MIN(occurred_at) AS first_event_at,
    MAX(occurred_at) AS last_event_at,
    -- The same on every event that carries it; the earliest, should two ever disagree.
    MIN(incident_created_at) AS created_at,
    MAX(CASE WHEN event_type = 'incident.acknowledged' AND first_of_type = 1 THEN agent_type END) AS acknowledged_by_type,
    MAX(CASE WHEN event_type = 'incident.resolved' AND first_of_type = 1 THEN agent_type END) AS resolved_by_type,
    MAX(CASE WHEN event_type = 'incident.resolved' AND first_of_type = 1 THEN resolve_reason END) AS resolve_reason
  FROM ranked
  GROUP BY incident_id
)
SELECT
  -- The types of the events view's columns (PostgreSQL's MAX of a varchar is text).
  incident_id,
  incident_number,
  CAST(incident_title AS varchar(1024)) AS incident_title,
  CAST(incident_status AS varchar(255)) AS incident_status,
  CAST(urgency AS varchar(255)) AS urgency,
  CAST(service_id AS varchar(255)) AS service_id,
  CAST(service_name AS varchar(1024)) AS service_name,
  CAST(html_url AS varchar(1024)) AS html_url,
  CAST(app_id AS varchar(255)) AS app_id,
  CAST(webhook_version AS varchar(2)) AS webhook_version,
  triggered_at,
  acknowledged_at,
  CAST(acknowledged_by AS varchar(255)) AS acknowledged_by,
  resolved_at,
  CAST(resolved_by AS varchar(255)) AS resolved_by,
  -- Each end read as UTC into a timestamptz, whose epoch keeps the milliseconds on Redshift too
  -- (sql/queries/mtta_mttr.redshift.sql says why); the start is the trigger, else the creation.
  CAST(EXTRACT(EPOCH FROM acknowledged_at AT TIME ZONE 'UTC') - EXTRACT(EPOCH FROM started_at AT TIME ZONE 'UTC') AS decimal(18,3)) AS seconds_to_acknowledge,
  CAST(EXTRACT(EPOCH FROM resolved_at AT TIME ZONE 'UTC') - EXTRACT(EPOCH FROM started_at AT TIME ZONE 'UTC') AS decimal(18,3)) AS seconds_to_resolve,
  CAST(events AS bigint) AS events, first_event_at, last_event_at,
  -- Last: added since the view's first version, each after the one before (CREATE OR REPLACE
  -- VIEW adds columns only at the end).
  created_at,
  CAST(acknowledged_by_type AS varchar(16)) AS acknowledged_by_type,
  CAST(resolved_by_type AS varchar(16)) AS resolved_by_type,
  CAST(resolve_reason AS varchar(255)) AS resolve_reason
FROM (SELECT incidents.*, COALESCE(triggered_at, created_at) AS started_at FROM incidents) started;
