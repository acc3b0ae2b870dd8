-- Migration: 001_init.sql
-- Every table, index, sequence, view, function and type must start with the module's
-- table_prefix (template_); the kernel rolls back a migration that creates anything else.
CREATE TABLE IF NOT EXISTS template_items (
    id SERIAL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS template_items_name_idx ON template_items (name);

-- migrate:down
-- Rollback: `hubctl migrate template_module --down 1` runs this section.
DROP TABLE IF EXISTS template_items;
