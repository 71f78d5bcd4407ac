-- PostgreSQL only: the JSON columns of the shredded tables compressed with LZ4 where the
-- server has it (PostgreSQL 14 and later built with lz4). Each event's raw_message is about
-- 1.5 KB of JSON; LZ4 compresses it with about a tenth less database CPU per loaded event
-- than the default pglz, the table the same size (docs/benchmark.md). Applied only to an
-- empty table whose JSON columns have no method of their own, so a table already in use, or
-- one a DBA has set, is left as it is; values already stored keep their compression either way.
-- Tables the collector's login does not own (a DBA created them) are not touched either.
-- SET COMPRESSION takes the table's ACCESS EXCLUSIVE lock: a table an open transaction has
-- read (an analyst's, through the view, on a table still empty because only v3 webhooks
-- arrive) is waited on for at most 5 s, then it and the tables after it are left for the
-- next start. Unbounded, the start waited for that transaction to end, holding up loading
-- and, queued behind it, every reader of the view.
DO $$
DECLARE
  tbl regclass;
  col name;
  in_use boolean;
  prev text := current_setting('lock_timeout');
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    RETURN;
  END IF;
  FOREACH tbl IN ARRAY ARRAY['atomic.com_pagerduty_incident_1', 'atomic.com_pagerduty_webhook_v2_message_1', 'atomic.com_pagerduty_webhook_v3_event_1']::regclass[] LOOP
    CONTINUE WHEN NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = tbl), 'USAGE');
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', tbl) INTO in_use;
    CONTINUE WHEN in_use;
    PERFORM set_config('lock_timeout', '5s', true);
    BEGIN
      FOR col IN SELECT attname FROM pg_attribute
                 WHERE attrelid = tbl AND atttypid = 'jsonb'::regtype AND attcompression = '' AND NOT attisdropped LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET COMPRESSION lz4', tbl, col);
      END LOOP;
    EXCEPTION WHEN lock_not_available THEN
      -- The remaining tables too (readers of the view hold all three): 5 s in all, not each.
      RAISE NOTICE '%: JSON columns not switched to lz4 yet (readers held the table for 5 s); the next start tries again', tbl;
      PERFORM set_config('lock_timeout', prev, true);
      EXIT;
    END;
    PERFORM set_config('lock_timeout', prev, true);
  END LOOP;
END $$;
