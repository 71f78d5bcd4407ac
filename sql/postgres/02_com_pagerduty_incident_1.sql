-- PagerDuty webhooks v1, iglu:com.pagerduty/incident/jsonschema/1-0-0: Snowplow's shredded
-- table (iglu-central sql/com.pagerduty/incident_1.sql) with these corrections:
--   * the escalation-policy columns carry their dot ("data.incident.escalation_policy.id";
--     Snowplow's DDL says "data.incident.escalation_policyid", so they were always NULL);
--     a table deployed from Snowplow's DDL still loads: the writer fills the old names;
--   * incident_number and number_of_escalations are integers, timestamps are UTC;
--   * pending_actions and urgency (PagerDuty added them after Snowplow's schema), the
--     X-Webhook-Id header, and raw_message: the whole message exactly as received.
CREATE TABLE IF NOT EXISTS atomic.com_pagerduty_incident_1 (
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
  created_on timestamp,
  type varchar(255),
  "data.incident.id" varchar(255),
  "data.incident.incident_number" integer,
  "data.incident.created_on" timestamp,
  "data.incident.status" varchar(255),
  "data.incident.html_url" varchar(255),
  "data.incident.incident_key" varchar(255),
  "data.incident.service.id" varchar(255),
  "data.incident.service.name" varchar(255),
  "data.incident.service.html_url" varchar(255),
  "data.incident.service.deleted_at" timestamp,
  "data.incident.escalation_policy.id" varchar(255),
  "data.incident.escalation_policy.name" varchar(255),
  "data.incident.escalation_policy.deleted_at" timestamp,
  "data.incident.assigned_to_user.id" varchar(255),
  "data.incident.assigned_to_user.name" varchar(255),
  "data.incident.assigned_to_user.email" varchar(255),
  "data.incident.assigned_to_user.html_url" varchar(255),
  "data.incident.trigger_summary_data.description" varchar(255),
  "data.incident.trigger_summary_data.subject" varchar(255),
  "data.incident.trigger_summary_data.client" varchar(255),
  "data.incident.trigger_details_html_url" varchar(255),
  "data.incident.trigger_type" varchar(255),
  "data.incident.last_status_change_on" timestamp,
  "data.incident.last_status_change_by.id" varchar(255),
  "data.incident.last_status_change_by.name" varchar(255),
  "data.incident.last_status_change_by.email" varchar(255),
  "data.incident.last_status_change_by.html_url" varchar(255),
  "data.incident.number_of_escalations" integer,
  "data.incident.assigned_to" jsonb,
  "data.incident.resolved_by_user.id" varchar(255),
  "data.incident.resolved_by_user.name" varchar(255),
  "data.incident.resolved_by_user.email" varchar(255),
  "data.incident.resolved_by_user.html_url" varchar(255),
  "data.incident.pending_actions" jsonb,
  "data.incident.urgency" varchar(255),
  webhook_id varchar(255),
  raw_message jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS com_pagerduty_incident_1_root_id_idx ON atomic.com_pagerduty_incident_1 (root_id);
CREATE INDEX IF NOT EXISTS com_pagerduty_incident_1_root_tstamp_idx ON atomic.com_pagerduty_incident_1 (root_tstamp);
