-- PostgreSQL only: the JSON columns of the shredded tables compressed with LZ4 where the
-- server has it (PostgreSQL 14 and later built with lz4). Each event's raw_message is about
-- 1.5 KB of JSON; LZ4 compresses it with about a tenth less database CPU per loaded event
-- than the default pglz, the table the same size (docs/benchmark.md). Applied only to an
-- empty table whose JSON columns have no method of their own, so a table already in use, or
-- one a DBA has set, is left as it is; values already stored keep their compression either way.
-- Tables the collector's login does not own (a DBA created them) are not touched either.
DO $$
DECLARE
  tbl regclass;
  col name;
  in_use boolean;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    RETURN;
  END IF;
  FOREACH tbl IN ARRAY ARRAY['atomic.com_pagerduty_incident_1', 'atomic.com_pagerduty_webhook_v2_message_1', 'atomic.com_pagerduty_webhook_v3_event_1']::regclass[] LOOP
    CONTINUE WHEN NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = tbl), 'USAGE');
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', tbl) INTO in_use;
    CONTINUE WHEN in_use;
    FOR col IN SELECT attname FROM pg_attribute
               WHERE attrelid = tbl AND atttypid = 'jsonb'::regtype AND attcompression = '' AND NOT attisdropped LOOP
      EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET COMPRESSION lz4', tbl, col);
    END LOOP;
  END LOOP;
END $$;
