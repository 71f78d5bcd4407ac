-- PostgreSQL: the request column (09_bad_rows.sql) added to a bad_rows table created before
-- it had one. Only when it is missing (ADD COLUMN IF NOT EXISTS would take the table's
-- ACCESS EXCLUSIVE lock at every start, waiting behind any open reader), only on a table the
-- collector's login owns, and waiting at most 5 s for readers: otherwise the next start tries
-- again, and meanwhile bad rows are stored without it (the writer logs which columns a table
-- lacks). On Redshift, add it by hand: ALTER TABLE atomic.bad_rows ADD COLUMN request varchar(65535).
DO $$
DECLARE
  tbl regclass := to_regclass('atomic.bad_rows');
  prev text := current_setting('lock_timeout');
BEGIN
  IF tbl IS NULL
     OR EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = tbl AND attname = 'request' AND NOT attisdropped)
     OR NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = tbl), 'USAGE') THEN
    RETURN;
  END IF;
  PERFORM set_config('lock_timeout', '5s', true);
  BEGIN
    EXECUTE format('ALTER TABLE %s ADD COLUMN request text', tbl);
  EXCEPTION WHEN lock_not_available THEN
    RAISE NOTICE 'bad_rows: the request column is not added yet (readers held the table for 5 s); the next start tries again';
  END;
  PERFORM set_config('lock_timeout', prev, true);
END $$;
