-- PagerDuty webhooks v3, iglu:com.pagerduty/webhook_v3_event/jsonschema/1-0-0, for Amazon
-- Redshift: the columns of sql/postgres/04_com_pagerduty_webhook_v3_event_1.sql (one table
-- for every v3 event type; what each column holds is described there), in the layout of
-- Snowplow's shredded tables: RUNLENGTH for the schema and ref columns, root_id and
-- root_tstamp RAW (the distribution key and the sort key), ZSTD for the rest, DISTSTYLE KEY,
-- DISTKEY (root_id) for a co-located join to atomic.events, SORTKEY (root_tstamp). No index
-- on "incident.id" as PostgreSQL has: Redshift has none; the view's per-incident lookup
-- scans this table, which holds one row per event.
-- JSON columns ("incident.assignees", data, raw_message) are SUPER, filled with JSON_PARSE:
-- query them with PartiQL (data.priority.summary). An event over JSON_PARSE's 65,535 bytes
-- is rejected by Redshift and kept whole in atomic.bad_rows.
-- varchar(n) counts bytes on Redshift: the writer cuts longer strings on a UTF-8 character
-- boundary; the full value stays in raw_message.
CREATE TABLE IF NOT EXISTS atomic.com_pagerduty_webhook_v3_event_1 (
  schema_vendor varchar(128) ENCODE RUNLENGTH NOT NULL,
  schema_name varchar(128) ENCODE RUNLENGTH NOT NULL,
  schema_format varchar(128) ENCODE RUNLENGTH NOT NULL,
  schema_version varchar(128) ENCODE RUNLENGTH NOT NULL,
  root_id char(36) ENCODE RAW NOT NULL,
  root_tstamp timestamp ENCODE RAW NOT NULL,
  ref_root varchar(255) ENCODE RUNLENGTH NOT NULL,
  ref_tree varchar(1500) ENCODE RUNLENGTH NOT NULL,
  ref_parent varchar(255) ENCODE RUNLENGTH NOT NULL,
  id varchar(255) ENCODE ZSTD NOT NULL,
  event_type varchar(255) ENCODE ZSTD NOT NULL,
  resource_type varchar(255) ENCODE ZSTD,
  occurred_at timestamp ENCODE ZSTD,
  "agent.id" varchar(255) ENCODE ZSTD,
  "agent.type" varchar(255) ENCODE ZSTD,
  "agent.summary" varchar(1024) ENCODE ZSTD,
  "agent.html_url" varchar(1024) ENCODE ZSTD,
  "client.name" varchar(1024) ENCODE ZSTD,
  "client.url" varchar(1024) ENCODE ZSTD,
  "data.type" varchar(255) ENCODE ZSTD,
  "data.id" varchar(255) ENCODE ZSTD,
  "incident.id" varchar(255) ENCODE ZSTD,
  "incident.number" integer ENCODE ZSTD,
  "incident.title" varchar(1024) ENCODE ZSTD,
  "incident.status" varchar(255) ENCODE ZSTD,
  "incident.urgency" varchar(255) ENCODE ZSTD,
  "incident.incident_key" varchar(1024) ENCODE ZSTD,
  "incident.html_url" varchar(1024) ENCODE ZSTD,
  "incident.created_at" timestamp ENCODE ZSTD,
  "incident.priority.id" varchar(255) ENCODE ZSTD,
  "incident.priority.summary" varchar(255) ENCODE ZSTD,
  "incident.escalation_policy.id" varchar(255) ENCODE ZSTD,
  "incident.escalation_policy.summary" varchar(1024) ENCODE ZSTD,
  "incident.assignees" SUPER,
  "incident.resolve_reason.type" varchar(255) ENCODE ZSTD,
  "service.id" varchar(255) ENCODE ZSTD,
  "service.summary" varchar(1024) ENCODE ZSTD,
  data SUPER NOT NULL,
  webhook_id varchar(255) ENCODE ZSTD,
  raw_message SUPER NOT NULL
)
DISTSTYLE KEY
DISTKEY (root_id)
SORTKEY (root_tstamp);
