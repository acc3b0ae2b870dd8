-- Migration: 001_init.sql — parsed invoices, their lines, and full-text search over both.
CREATE TABLE inv_invoices (
    id SERIAL PRIMARY KEY,
    vendor TEXT,
    invoice_number TEXT NOT NULL,
    invoice_date DATE,
    due_date DATE,
    currency CHAR(3),
    subtotal NUMERIC(14, 2),
    tax_amount NUMERIC(14, 2),
    tax_rate NUMERIC(5, 2),
    total NUMERIC(14, 2) NOT NULL,
    language TEXT,
    source_kind TEXT NOT NULL CHECK (source_kind IN ('pdf', 'text')),
    file_name TEXT,
    file_size INTEGER NOT NULL,
    file_sha256 TEXT NOT NULL,
    pages INTEGER,
    raw_text TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- 'simple' (no stemming) because invoices arrive in Danish and English alike
    search_vector TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', coalesce(vendor, '') || ' ' || invoice_number), 'A')
        || setweight(to_tsvector('simple', raw_text), 'B')
    ) STORED
);
-- the same file uploaded twice is one invoice
CREATE UNIQUE INDEX inv_invoices_sha256_idx ON inv_invoices (file_sha256);
CREATE INDEX inv_invoices_search_idx ON inv_invoices USING GIN (search_vector);
CREATE INDEX inv_invoices_date_idx ON inv_invoices (invoice_date DESC, id DESC);
CREATE INDEX inv_invoices_vendor_idx ON inv_invoices (lower(vendor));

CREATE TABLE inv_invoice_lines (
    id SERIAL PRIMARY KEY,
    invoice_id INTEGER NOT NULL REFERENCES inv_invoices (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    description TEXT NOT NULL,
    quantity NUMERIC(14, 3),
    unit_price NUMERIC(14, 2),
    amount NUMERIC(14, 2),
    CONSTRAINT inv_invoice_lines_position_key UNIQUE (invoice_id, position)
);

-- migrate:down
DROP TABLE IF EXISTS inv_invoice_lines;
DROP TABLE IF EXISTS inv_invoices;
