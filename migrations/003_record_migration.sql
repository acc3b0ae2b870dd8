-- Lets a module's migration record itself in the ledger inside its own transaction, so a file
-- is applied and recorded together or not at all, although the module's owner role has no
-- privilege on hub_migrations. The module is derived from the login (session_user, which a
-- migration cannot change), never taken from the caller: an owner can only write its own
-- module's rows.
CREATE TABLE hub_module_owners (
  owner_role text PRIMARY KEY,
  module     text NOT NULL UNIQUE
);
REVOKE ALL ON hub_module_owners FROM PUBLIC;

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

-- migrate:down
DROP FUNCTION hub_record_migration(integer, text, text, integer, boolean);
DROP TABLE hub_module_owners;
