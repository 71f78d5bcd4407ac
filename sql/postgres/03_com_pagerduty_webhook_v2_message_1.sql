-- PagerDuty webhooks v2, iglu:com.pagerduty/webhook_v2_message/jsonschema/1-0-0 (the
-- TypeBox schema in src/adapters/pagerduty/v2-schema.ts, self-describing: vendor
-- com.pagerduty, SchemaVer 1-0-0; a new optional column is 1-0-1, a breaking change 2-0-0 and
-- a new table _2). One row per v2 message, v_tracker 'com.pagerduty-v2' in atomic.events.
-- Shredded as Snowplow shreds com_pagerduty_incident_1: the hierarchy columns, then one
-- column per JSON path analysts use, named by that path from the message root:
--   * id, event (as sent: incident.trigger ...; the view maps it to v3's names), created_on;
--   * the incident: id, number, title, status, urgency, key, priority, service, escalation
--     policy, assignments and acknowledgements (JSON: one entry per assignee/acknowledger);
--   * "log_entries[0].*": the first log entry, i.e. who (agent) did what (type) through which
--     channel; escalations to several targets carry one entry each, all in log_entries;
--   * the webhook's id and name (not endpoint_url: it may hold basic-auth credentials);
--   * webhook_id: the X-Webhook-Id header; raw_message: the message exactly as received, so
--     no field PagerDuty sends is lost. Timestamps are UTC.
CREATE TABLE IF NOT EXISTS atomic.com_pagerduty_webhook_v2_message_1 (
  schema_vendor varchar(128) NOT NULL,
  schema_name varchar(128) NOT NULL,
  schema_format varchar(128) NOT NULL,
  schema_version varchar(128) NOT NULL,
  root_id char(36) NOT NULL,
  root_tstamp timestamp NOT NULL,
  ref_root varchar(255) NOT NULL,
  ref_tree varchar(1500) NOT NULL,
  ref_parent varchar(255) NOT NULL,
  id varchar(255),
  event varchar(255) NOT NULL,
  created_on timestamp,
  "incident.id" varchar(255),
  "incident.incident_number" integer,
  "incident.title" varchar(1024),
  "incident.status" varchar(255),
  "incident.urgency" varchar(255),
  "incident.incident_key" varchar(1024),
  "incident.html_url" varchar(1024),
  "incident.created_at" timestamp,
  "incident.last_status_change_at" timestamp,
  "incident.last_status_change_by.id" varchar(255),
  "incident.last_status_change_by.summary" varchar(1024),
  "incident.last_status_change_by.type" varchar(255),
  "incident.priority.id" varchar(255),
  "incident.priority.summary" varchar(255),
  "incident.service.id" varchar(255),
  "incident.service.name" varchar(1024),
  "incident.escalation_policy.id" varchar(255),
  "incident.escalation_policy.summary" varchar(1024),
  "incident.assignments" jsonb,
  "incident.acknowledgements" jsonb,
  "incident.teams" jsonb,
  "incident.resolve_reason" jsonb,
  "log_entries[0].id" varchar(255),
  "log_entries[0].type" varchar(255),
  "log_entries[0].created_at" timestamp,
  "log_entries[0].agent.id" varchar(255),
  "log_entries[0].agent.type" varchar(255),
  "log_entries[0].agent.summary" varchar(1024),
  "log_entries[0].channel.type" varchar(255),
  "log_entries[0].channel.summary" varchar(1024),
  log_entries jsonb,
  "webhook.id" varchar(255),
  "webhook.name" varchar(1024),
  webhook_id varchar(255),
  raw_message jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS com_pagerduty_webhook_v2_message_1_root_id_idx ON atomic.com_pagerduty_webhook_v2_message_1 (root_id);
CREATE INDEX IF NOT EXISTS com_pagerduty_webhook_v2_message_1_root_tstamp_idx ON atomic.com_pagerduty_webhook_v2_message_1 (root_tstamp);
