-- PagerDuty webhooks v3, iglu:com.pagerduty/webhook_v3_event/jsonschema/1-0-0 (the TypeBox
-- schema in src/adapters/pagerduty/v3-schema.ts, self-describing: vendor com.pagerduty,
-- SchemaVer 1-0-0). One row per v3 event of every GA type (incident.* and service.*),
-- v_tracker 'com.pagerduty-v3' in atomic.events. pagey.ping is never loaded.
--
-- One table for every v3 type, not one per data shape: the 30 GA types carry 12 `data`
-- shapes and PagerDuty adds types without notice, yet what analysts ask of an event is the
-- same for all of them (which incident, which service, who, when). So the envelope, the
-- incident and the service have columns whatever the shape, and `data` is kept whole:
--   * id, event_type, resource_type, occurred_at, agent.* and client.* (null or absent in
--     automated events, service events and pings);
--   * "data.type", "data.id": the shape and the id of the note/task/responder... itself;
--   * "incident.*": from data when data.type = 'incident' (number, status, urgency, key,
--     priority, escalation policy, assignees), else from the incident reference the data
--     carries (id, title = the reference's summary, html_url);
--   * "service.*": data itself for service.* events, else the service data names (incident,
--     workflow instance, service custom fields); NULL for notes, responders, ... (the view
--     fills it from the incident's other events);
--   * data: event.data whole; raw_message: the event exactly as received; webhook_id: the
--     X-Webhook-Id header. Timestamps are UTC with PagerDuty's milliseconds.
CREATE TABLE IF NOT EXISTS atomic.com_pagerduty_webhook_v3_event_1 (
  schema_vendor varchar(128) NOT NULL,
  schema_name varchar(128) NOT NULL,
  schema_format varchar(128) NOT NULL,
  schema_version varchar(128) NOT NULL,
  root_id char(36) NOT NULL,
  root_tstamp timestamp NOT NULL,
  ref_root varchar(255) NOT NULL,
  ref_tree varchar(1500) NOT NULL,
  ref_parent varchar(255) NOT NULL,
  id varchar(255) NOT NULL,
  event_type varchar(255) NOT NULL,
  resource_type varchar(255),
  occurred_at timestamp,
  "agent.id" varchar(255),
  "agent.type" varchar(255),
  "agent.summary" varchar(1024),
  "agent.html_url" varchar(1024),
  "client.name" varchar(1024),
  "client.url" varchar(1024),
  "data.type" varchar(255),
  "data.id" varchar(255),
  "incident.id" varchar(255),
  "incident.number" integer,
  "incident.title" varchar(1024),
  "incident.status" varchar(255),
  "incident.urgency" varchar(255),
  "incident.incident_key" varchar(1024),
  "incident.html_url" varchar(1024),
  "incident.created_at" timestamp,
  "incident.priority.id" varchar(255),
  "incident.priority.summary" varchar(255),
  "incident.escalation_policy.id" varchar(255),
  "incident.escalation_policy.summary" varchar(1024),
  "incident.assignees" jsonb,
  "incident.resolve_reason.type" varchar(255),
  "service.id" varchar(255),
  "service.summary" varchar(1024),
  data jsonb NOT NULL,
  webhook_id varchar(255),
  raw_message jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS com_pagerduty_webhook_v3_event_1_root_id_idx ON atomic.com_pagerduty_webhook_v3_event_1 (root_id);
CREATE INDEX IF NOT EXISTS com_pagerduty_webhook_v3_event_1_root_tstamp_idx ON atomic.com_pagerduty_webhook_v3_event_1 (root_tstamp);
CREATE INDEX IF NOT EXISTS com_pagerduty_webhook_v3_event_1_incident_id_idx ON atomic.com_pagerduty_webhook_v3_event_1 ("incident.id");
