-- Every rejected or unrecognised input, with its raw payload: bodies that are not JSON or
-- not PagerDuty (their 4xx), messages of unknown type or shape (their request still got a
-- 2xx), and events the database rejected. payload is capped at MAX_BODY_BYTES (1 MiB by
-- default), the largest body the collector accepts: its text, or its bytes as base64 when it
-- is not text (not UTF-8, a NUL, compressed), which request then says ("payload_encoding":
-- "base64", "content_encoding": "gzip"; src/events/raw-body.ts); reason is a stable code, detail a JSON
-- list of {path, message}; request the rest of what came with the request, as JSON (the
-- webhook URL's query parameters, the client's address, its User-Agent and X-Webhook-Id),
-- which `collector bad-rows retry` gives back to the events it loads.
CREATE TABLE IF NOT EXISTS atomic.bad_rows (
  bad_row_id char(36) NOT NULL,
  received_at timestamp NOT NULL,
  reason varchar(64) NOT NULL,
  detail text,
  vendor varchar(64) NOT NULL,
  version varchar(16),
  payload text,
  request text,
  CONSTRAINT bad_rows_bad_row_id_key UNIQUE (bad_row_id)
);
CREATE INDEX IF NOT EXISTS bad_rows_received_at_idx ON atomic.bad_rows (received_at);
