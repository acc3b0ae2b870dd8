// Shapes passed between the router, the tasks (across the worker boundary) and the store.

export interface InvoiceLine {
  position: number;
  description: string;
  quantity: number | null;
  unit_price: number | null;
  amount: number | null;
}

export interface ParsedInvoice {
  vendor: string | null;
  invoice_number: string | null;
  /** ISO dates, yyyy-mm-dd */
  invoice_date: string | null;
  due_date: string | null;
  /** ISO 4217 code */
  currency: string | null;
  subtotal: number | null;
  tax_amount: number | null;
  /** percent, e.g. 25 for 25 % */
  tax_rate: number | null;
  total: number | null;
  language: 'en' | 'da' | null;
  lines: InvoiceLine[];
}

export interface ParseResult {
  invoice: ParsedInvoice;
  /** Fields an invoice cannot be stored without. */
  missing: string[];
  /** Every field that stayed empty, for the client to show. */
  not_found: string[];
}

export type SourceKind = 'pdf' | 'text';

export interface ExtractPayload {
  kind: SourceKind;
  data: Uint8Array;
  maxPages: number;
}

export type ExtractFailure = 'encrypted_pdf' | 'invalid_pdf' | 'no_text' | 'too_many_pages' | 'not_text';

export type ExtractResult =
  | { ok: true; text: string; pages: number | null; sha256: string }
  | { ok: false; code: ExtractFailure; message: string };
