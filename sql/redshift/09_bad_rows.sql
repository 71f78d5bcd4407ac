-- Every rejected or unrecognised input, with its raw payload (see sql/postgres/09_bad_rows.sql).
-- Redshift has no unbounded text (TEXT means varchar(256)): detail and payload are
-- varchar(65535), the largest Redshift allows, in bytes. The writer cuts a longer payload on
-- a UTF-8 character boundary, so on Redshift a payload is capped at 65,535 bytes (1 MiB,
-- MAX_BODY_BYTES, on PostgreSQL); a base64 payload (a body that is not text) at 65,532
-- characters, where it still decodes. Deduplicated by bad_row_id through the staging table.
CREATE TABLE IF NOT EXISTS atomic.bad_rows (
  bad_row_id char(36) ENCODE ZSTD NOT NULL,
  received_at timestamp ENCODE RAW NOT NULL,
  reason varchar(64) ENCODE ZSTD NOT NULL,
  detail varchar(65535) ENCODE ZSTD,
  vendor varchar(64) ENCODE ZSTD NOT NULL,
  version varchar(16) ENCODE ZSTD,
  payload varchar(65535) ENCODE ZSTD,
  request varchar(65535) ENCODE ZSTD,
  CONSTRAINT bad_rows_pk PRIMARY KEY (bad_row_id)
)
DISTSTYLE KEY
DISTKEY (bad_row_id)
SORTKEY (received_at);
