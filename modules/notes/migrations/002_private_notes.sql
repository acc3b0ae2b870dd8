-- Migration: 002_private_notes.sql: a note may be private to its author, enforced by
-- PostgreSQL itself (row-level security), not by the module's code. The hub sets
-- hub.user_id on every query ctx.db runs for a signed-in request; with nobody signed in it is
-- empty and only shared notes are visible. FORCE applies the policy to the table's owner too.
ALTER TABLE notes_notes ADD COLUMN author_id bigint;
ALTER TABLE notes_notes ADD COLUMN private boolean NOT NULL DEFAULT false;
ALTER TABLE notes_notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE notes_notes FORCE ROW LEVEL SECURITY;
CREATE POLICY notes_private_to_author ON notes_notes
  USING (NOT private OR author_id = nullif(current_setting('hub.user_id', true), '')::bigint)
  WITH CHECK (NOT private OR author_id = nullif(current_setting('hub.user_id', true), '')::bigint);

-- migrate:down
DROP POLICY notes_private_to_author ON notes_notes;
ALTER TABLE notes_notes NO FORCE ROW LEVEL SECURITY;
ALTER TABLE notes_notes DISABLE ROW LEVEL SECURITY;
ALTER TABLE notes_notes DROP COLUMN private;
ALTER TABLE notes_notes DROP COLUMN author_id;
