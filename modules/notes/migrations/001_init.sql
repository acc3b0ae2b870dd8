-- Migration: 001_init.sql — the notes table.
CREATE TABLE IF NOT EXISTS notes_notes (
    id SERIAL PRIMARY KEY,
    title VARCHAR(200) NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS notes_notes_updated_idx ON notes_notes (updated_at DESC);

-- migrate:down
DROP TABLE IF EXISTS notes_notes;
