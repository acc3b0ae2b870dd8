// The module's SQL. Dates leave PostgreSQL as yyyy-mm-dd text and NUMERIC as numbers, so
// the API never shifts a date by a time zone nor hands out amounts as strings.
import type { ModuleDb } from '../../../shared/module-api.js';
import type { InvoiceLine, ParsedInvoice, SourceKind } from './types.js';

export interface StoredSource {
  kind: SourceKind;
  fileName: string | null;
  size: number;
  sha256: string;
  pages: number | null;
  text: string;
}

export interface InvoiceSummary {
  id: number;
  vendor: string | null;
  invoice_number: string;
  invoice_date: string | null;
  due_date: string | null;
  currency: string | null;
  subtotal: number | null;
  tax_amount: number | null;
  tax_rate: number | null;
  total: number;
  language: string | null;
  source_kind: SourceKind;
  file_name: string | null;
  created_at: string;
}

export interface InvoiceDetail extends InvoiceSummary {
  file_size: number;
  pages: number | null;
  raw_text: string;
  lines: InvoiceLine[];
}

export interface ListFilter {
  q?: string;
  vendor?: string;
  from?: string;
  to?: string;
  limit: number;
  offset: number;
}

const SUMMARY_COLUMNS = `id, vendor, invoice_number, to_char(invoice_date, 'YYYY-MM-DD') AS invoice_date,
  to_char(due_date, 'YYYY-MM-DD') AS due_date, currency, subtotal::float8 AS subtotal, tax_amount::float8 AS tax_amount,
  tax_rate::float8 AS tax_rate, total::float8 AS total, language, source_kind, file_name, created_at`;

/** Stores an invoice and its lines together or not at all; returns the new id. */
export async function insertInvoice(db: ModuleDb, inv: ParsedInvoice, src: StoredSource): Promise<number> {
  return db.transaction(async (tx) => {
    const id = await tx.insert<number>(
      `INSERT INTO inv_invoices (vendor, invoice_number, invoice_date, due_date, currency, subtotal, tax_amount, tax_rate, total,
         language, source_kind, file_name, file_size, file_sha256, pages, raw_text)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
      [
        inv.vendor, inv.invoice_number, inv.invoice_date, inv.due_date, inv.currency, inv.subtotal, inv.tax_amount, inv.tax_rate,
        inv.total, inv.language, src.kind, src.fileName, src.size, src.sha256, src.pages, src.text,
      ],
    );
    if (id === null) throw new Error('insert returned no id');
    for (const line of inv.lines) {
      await tx.query(
        'INSERT INTO inv_invoice_lines (invoice_id, position, description, quantity, unit_price, amount) VALUES ($1, $2, $3, $4, $5, $6)',
        [id, line.position, line.description, line.quantity, line.unit_price, line.amount],
      );
    }
    return id;
  });
}

export async function findBySha(db: ModuleDb, sha256: string): Promise<number | null> {
  const row = await db.one<{ id: number }>('SELECT id FROM inv_invoices WHERE file_sha256 = $1', [sha256]);
  return row?.id ?? null;
}

/** Search words become prefix matches ("acm" finds "Acme"), all of which must match. */
export function toPrefixQuery(q: string): string | null {
  const words = (q.match(/[\p{L}\p{N}]+/gu) ?? []).slice(0, 8);
  return words.length ? words.map((w) => `${w.toLowerCase()}:*`).join(' & ') : null;
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

export async function listInvoices(db: ModuleDb, f: ListFilter): Promise<{ invoices: InvoiceSummary[]; count: number }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const param = (v: unknown) => `$${params.push(v)}`;
  let rank = '';
  const tsq = f.q ? toPrefixQuery(f.q) : null;
  if (f.q) {
    // the full-text index finds words; ILIKE finds invoice numbers typed with their punctuation
    const like = param(`%${likeEscape(f.q)}%`);
    if (tsq) {
      const t = param(tsq);
      where.push(`(search_vector @@ to_tsquery('simple', ${t}) OR invoice_number ILIKE ${like})`);
      rank = `ts_rank(search_vector, to_tsquery('simple', ${t})) DESC, `;
    } else {
      where.push(`invoice_number ILIKE ${like}`);
    }
  }
  if (f.vendor) where.push(`vendor ILIKE ${param(`%${likeEscape(f.vendor)}%`)}`);
  if (f.from) where.push(`invoice_date >= ${param(f.from)}`);
  if (f.to) where.push(`invoice_date <= ${param(f.to)}`);
  const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const countRow = await db.one<{ n: number }>(`SELECT count(*)::int AS n FROM inv_invoices ${filter}`, params);
  const invoices = await db.query<InvoiceSummary>(
    `SELECT ${SUMMARY_COLUMNS} FROM inv_invoices ${filter}
     ORDER BY ${rank}invoice_date DESC NULLS LAST, id DESC LIMIT ${param(f.limit)} OFFSET ${param(f.offset)}`,
    params,
  );
  return { invoices, count: countRow?.n ?? 0 };
}

export async function getInvoice(db: ModuleDb, id: number): Promise<InvoiceDetail | null> {
  const inv = await db.one<Omit<InvoiceDetail, 'lines'>>(
    `SELECT ${SUMMARY_COLUMNS}, file_size, pages, raw_text FROM inv_invoices WHERE id = $1`,
    [id],
  );
  if (!inv) return null;
  const lines = await db.query<InvoiceLine>(
    `SELECT position, description, quantity::float8 AS quantity, unit_price::float8 AS unit_price, amount::float8 AS amount
     FROM inv_invoice_lines WHERE invoice_id = $1 ORDER BY position`,
    [id],
  );
  return { ...inv, lines };
}

/** Deletes an invoice; its lines go with it (ON DELETE CASCADE). */
export async function deleteInvoice(db: ModuleDb, id: number): Promise<boolean> {
  const rows = await db.query('DELETE FROM inv_invoices WHERE id = $1 RETURNING id', [id]);
  return rows.length > 0;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Reads ?q=&vendor=&from=&to=&limit=&offset=; returns an error message for a bad value. */
export function parseListFilter(query: Record<string, unknown>): ListFilter | string {
  const str = (k: string) => (typeof query[k] === 'string' ? (query[k] as string).trim().slice(0, 200) : '');
  const f: ListFilter = { limit: 50, offset: 0 };
  if (str('q')) f.q = str('q');
  if (str('vendor')) f.vendor = str('vendor');
  for (const k of ['from', 'to'] as const) {
    const v = str(k);
    if (!v) continue;
    if (!ISO_DATE.test(v) || Number.isNaN(Date.parse(v))) return `${k} must be a date as yyyy-mm-dd, got "${v}"`;
    f[k] = v;
  }
  if (str('limit')) {
    const n = Number(str('limit'));
    if (!Number.isInteger(n) || n < 1 || n > 500) return 'limit must be a whole number from 1 to 500';
    f.limit = n;
  }
  if (str('offset')) {
    const n = Number(str('offset'));
    if (!Number.isInteger(n) || n < 0) return 'offset must be a whole number, 0 or more';
    f.offset = n;
  }
  return f;
}

/** A route's :id as a database id, or null when it cannot be one. */
export function parseId(raw: unknown): number | null {
  if (typeof raw !== 'string' || !/^\d{1,10}$/.test(raw)) return null;
  const n = Number(raw);
  return n >= 1 && n <= 2_147_483_647 ? n : null;
}
