-- hub_record_migration (003) let a module's migration SQL call it too: it could forge or
-- delete its own module's ledger rows, and write rows of any size and number, which every
-- kernel then reads into memory (a 100 MB name compresses to little on disk). Now a row is
-- recorded only with a one-use token the kernel writes here, for this owner, version and
-- direction, just before the file runs, and passes to the call after the file's statements:
-- the file's own SQL never sees it (no privilege on this table, and the call comes last).
CREATE TABLE hub_migration_tokens (
  owner_role text    NOT NULL,
  version    integer NOT NULL,
  applied    boolean NOT NULL,
  token      text    NOT NULL,
  PRIMARY KEY (owner_role, version, applied)
);
REVOKE ALL ON hub_migration_tokens FROM PUBLIC;

DROP FUNCTION hub_record_migration(integer, text, text, integer, boolean);

CREATE FUNCTION hub_record_migration(p_token text, p_version integer, p_name text, p_checksum text, p_duration_ms integer, p_applied boolean)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  m text;
BEGIN
  SELECT o.module INTO m FROM public.hub_module_owners o WHERE o.owner_role = session_user;
  IF m IS NULL THEN
    RAISE EXCEPTION 'hub_record_migration: % is not a module owner role', session_user USING ERRCODE = '42501';
  END IF;
  DELETE FROM public.hub_migration_tokens t
   WHERE t.owner_role = session_user AND t.version = p_version AND t.applied = p_applied AND t.token = p_token;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'hub_record_migration: only the kernel records migrations' USING ERRCODE = '42501';
  END IF;
  IF p_applied THEN
    INSERT INTO public.hub_migrations (module, version, name, checksum, duration_ms) VALUES (m, p_version, p_name, p_checksum, p_duration_ms);
  ELSE
    DELETE FROM public.hub_migrations WHERE module = m AND version = p_version;
  END IF;
END
$fn$;
REVOKE ALL ON FUNCTION hub_record_migration(text, integer, text, text, integer, boolean) FROM PUBLIC;

-- migrate:down
DROP FUNCTION hub_record_migration(text, integer, text, text, integer, boolean);
DROP TABLE hub_migration_tokens;
CREATE FUNCTION hub_record_migration(p_version integer, p_name text, p_checksum text, p_duration_ms integer, p_applied boolean)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  m text;
BEGIN
  SELECT o.module INTO m FROM public.hub_module_owners o WHERE o.owner_role = session_user;
  IF m IS NULL THEN
    RAISE EXCEPTION 'hub_record_migration: % is not a module owner role', session_user USING ERRCODE = '42501';
  END IF;
  IF p_applied THEN
    INSERT INTO public.hub_migrations (module, version, name, checksum, duration_ms) VALUES (m, p_version, p_name, p_checksum, p_duration_ms);
  ELSE
    DELETE FROM public.hub_migrations WHERE module = m AND version = p_version;
  END IF;
END
$fn$;
REVOKE ALL ON FUNCTION hub_record_migration(integer, text, text, integer, boolean) FROM PUBLIC;
