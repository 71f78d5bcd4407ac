-- PagerDuty webhooks v2, iglu:com.pagerduty/webhook_v2_message/jsonschema/1-0-0, for Amazon
-- Redshift: the columns of sql/postgres/03_com_pagerduty_webhook_v2_message_1.sql (what each
-- holds is described there), in the layout of Snowplow's shredded tables: RUNLENGTH for the
-- schema and ref columns (one value per table), root_id and root_tstamp RAW (the
-- distribution key and the sort key, as in Snowplow's incident_1.sql), ZSTD for the rest
-- (AWS's recommended encoding for varchar; this table is ours, not Snowplow's), DISTSTYLE KEY,
-- DISTKEY (root_id) for a co-located join to atomic.events, SORTKEY (root_tstamp), no indexes.
-- JSON columns (assignments, acknowledgements, teams, resolve_reason, log_entries,
-- raw_message) are SUPER, filled with JSON_PARSE: query them with PartiQL
-- (raw_message.incident.id). A message over JSON_PARSE's 65,535 bytes is rejected by
-- Redshift and kept whole in atomic.bad_rows (up to its 65,535-byte payload column).
-- varchar(n) counts bytes on Redshift: the writer cuts longer strings on a UTF-8 character
-- boundary; the full value stays in raw_message.
CREATE TABLE IF NOT EXISTS atomic.com_pagerduty_webhook_v2_message_1 (
  schema_vendor varchar(128) ENCODE RUNLENGTH NOT NULL,
  schema_name varchar(128) ENCODE RUNLENGTH NOT NULL,
  schema_format varchar(128) ENCODE RUNLENGTH NOT NULL,
  schema_version varchar(128) ENCODE RUNLENGTH NOT NULL,
  root_id char(36) ENCODE RAW NOT NULL,
  root_tstamp timestamp ENCODE RAW NOT NULL,
  ref_root varchar(255) ENCODE RUNLENGTH NOT NULL,
  ref_tree varchar(1500) ENCODE RUNLENGTH NOT NULL,
  ref_parent varchar(255) ENCODE RUNLENGTH NOT NULL,
  id varchar(255) ENCODE ZSTD,
  event varchar(255) ENCODE ZSTD NOT NULL,
  created_on timestamp ENCODE ZSTD,
  "incident.id" varchar(255) ENCODE ZSTD,
  "incident.incident_number" integer ENCODE ZSTD,
  "incident.title" varchar(1024) ENCODE ZSTD,
  "incident.status" varchar(255) ENCODE ZSTD,
  "incident.urgency" varchar(255) ENCODE ZSTD,
  "incident.incident_key" varchar(1024) ENCODE ZSTD,
  "incident.html_url" varchar(1024) ENCODE ZSTD,
  "incident.created_at" timestamp ENCODE ZSTD,
  "incident.last_status_change_at" timestamp ENCODE ZSTD,
  "incident.last_status_change_by.id" varchar(255) ENCODE ZSTD,
  "incident.last_status_change_by.summary" varchar(1024) ENCODE ZSTD,
  "incident.last_status_change_by.type" varchar(255) ENCODE ZSTD,
  "incident.priority.id" varchar(255) ENCODE ZSTD,
  "incident.priority.summary" varchar(255) ENCODE ZSTD,
  "incident.service.id" varchar(255) ENCODE ZSTD,
  "incident.service.name" varchar(1024) ENCODE ZSTD,
  "incident.escalation_policy.id" varchar(255) ENCODE ZSTD,
  "incident.escalation_policy.summary" varchar(1024) ENCODE ZSTD,
  "incident.assignments" SUPER,
  "incident.acknowledgements" SUPER,
  "incident.teams" SUPER,
  "incident.resolve_reason" SUPER,
  "log_entries[0].id" varchar(255) ENCODE ZSTD,
  "log_entries[0].type" varchar(255) ENCODE ZSTD,
  "log_entries[0].created_at" timestamp ENCODE ZSTD,
  "log_entries[0].agent.id" varchar(255) ENCODE ZSTD,
  "log_entries[0].agent.type" varchar(255) ENCODE ZSTD,
  "log_entries[0].agent.summary" varchar(1024) ENCODE ZSTD,
  "log_entries[0].channel.type" varchar(255) ENCODE ZSTD,
  "log_entries[0].channel.summary" varchar(1024) ENCODE ZSTD,
  log_entries SUPER,
  "webhook.id" varchar(255) ENCODE ZSTD,
  "webhook.name" varchar(1024) ENCODE ZSTD,
  webhook_id varchar(255) ENCODE ZSTD,
  raw_message SUPER NOT NULL
)
DISTSTYLE KEY
DISTKEY (root_id)
SORTKEY (root_tstamp);
