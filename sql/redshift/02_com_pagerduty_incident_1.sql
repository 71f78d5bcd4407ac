-- PagerDuty webhooks v1, iglu:com.pagerduty/incident/jsonschema/1-0-0, for Amazon Redshift:
-- Snowplow's shredded table (snowplow/snowplow 4-storage/redshift-storage/sql/com.pagerduty/
-- incident_1.sql) with its encodings (RUNLENGTH for the schema and ref columns, RAW for the
-- rest), DISTSTYLE KEY, DISTKEY (root_id) for a co-located join to atomic.events, and
-- SORTKEY (root_tstamp). The columns are those of sql/postgres/02_com_pagerduty_incident_1.sql
-- (the escalation-policy columns with their dot, integers, UTC timestamps, pending_actions,
-- urgency, webhook_id, raw_message); a table deployed from Snowplow's DDL still loads.
-- JSON columns are SUPER, filled with JSON_PARSE: query them with PartiQL
-- (raw_message.data.incident.id). JSON_PARSE takes at most 65,535 bytes of text by default,
-- so a message larger than that is rejected by Redshift and kept whole in atomic.bad_rows
-- (up to its 65,535-byte payload column).
-- varchar(n) counts bytes on Redshift: the writer cuts longer strings on a UTF-8 character
-- boundary; the full value stays in raw_message.
CREATE TABLE IF NOT EXISTS atomic.com_pagerduty_incident_1 (
  schema_vendor varchar(128) ENCODE RUNLENGTH NOT NULL,
  schema_name varchar(128) ENCODE RUNLENGTH NOT NULL,
  schema_format varchar(128) ENCODE RUNLENGTH NOT NULL,
  schema_version varchar(128) ENCODE RUNLENGTH NOT NULL,
  root_id char(36) ENCODE RAW NOT NULL,
  root_tstamp timestamp ENCODE RAW NOT NULL,
  ref_root varchar(255) ENCODE RUNLENGTH NOT NULL,
  ref_tree varchar(1500) ENCODE RUNLENGTH NOT NULL,
  ref_parent varchar(255) ENCODE RUNLENGTH NOT NULL,
  id varchar(255) ENCODE RAW,
  created_on timestamp ENCODE RAW,
  type varchar(255) ENCODE RAW,
  "data.incident.id" varchar(255) ENCODE RAW,
  "data.incident.incident_number" integer ENCODE RAW,
  "data.incident.created_on" timestamp ENCODE RAW,
  "data.incident.status" varchar(255) ENCODE RAW,
  "data.incident.html_url" varchar(255) ENCODE RAW,
  "data.incident.incident_key" varchar(255) ENCODE RAW,
  "data.incident.service.id" varchar(255) ENCODE RAW,
  "data.incident.service.name" varchar(255) ENCODE RAW,
  "data.incident.service.html_url" varchar(255) ENCODE RAW,
  "data.incident.service.deleted_at" timestamp ENCODE RAW,
  "data.incident.escalation_policy.id" varchar(255) ENCODE RAW,
  "data.incident.escalation_policy.name" varchar(255) ENCODE RAW,
  "data.incident.escalation_policy.deleted_at" timestamp ENCODE RAW,
  "data.incident.assigned_to_user.id" varchar(255) ENCODE RAW,
  "data.incident.assigned_to_user.name" varchar(255) ENCODE RAW,
  "data.incident.assigned_to_user.email" varchar(255) ENCODE RAW,
  "data.incident.assigned_to_user.html_url" varchar(255) ENCODE RAW,
  "data.incident.trigger_summary_data.description" varchar(255) ENCODE RAW,
  "data.incident.trigger_summary_data.subject" varchar(255) ENCODE RAW,
  "data.incident.trigger_summary_data.client" varchar(255) ENCODE RAW,
  "data.incident.trigger_details_html_url" varchar(255) ENCODE RAW,
  "data.incident.trigger_type" varchar(255) ENCODE RAW,
  "data.incident.last_status_change_on" timestamp ENCODE RAW,
  "data.incident.last_status_change_by.id" varchar(255) ENCODE RAW,
  "data.incident.last_status_change_by.name" varchar(255) ENCODE RAW,
  "data.incident.last_status_change_by.email" varchar(255) ENCODE RAW,
  "data.incident.last_status_change_by.html_url" varchar(255) ENCODE RAW,
  "data.incident.number_of_escalations" integer ENCODE RAW,
  "data.incident.assigned_to" SUPER,
  "data.incident.resolved_by_user.id" varchar(255) ENCODE RAW,
  "data.incident.resolved_by_user.name" varchar(255) ENCODE RAW,
  "data.incident.resolved_by_user.email" varchar(255) ENCODE RAW,
  "data.incident.resolved_by_user.html_url" varchar(255) ENCODE RAW,
  "data.incident.pending_actions" SUPER,
  "data.incident.urgency" varchar(255) ENCODE RAW,
  webhook_id varchar(255) ENCODE RAW,
  raw_message SUPER NOT NULL
)
DISTSTYLE KEY
DISTKEY (root_id)
SORTKEY (root_tstamp);
