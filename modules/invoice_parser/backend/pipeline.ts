// One upload from request to stored invoice, shared by the API and the upload page:
// safety switches → read the body (size-capped) → extract text (worker) → parse fields
// (worker) → store invoice and lines in one transaction. Every refusal is a ctx.error (the hub's coded module error)
// raised before anything is written.
import type { ModuleContext, Request } from '../../../shared/module-api.js';
import type { ExtractFailure, ExtractPayload, ExtractResult, ParsedInvoice, ParseResult } from './types.js';
import { findBySha, insertInvoice } from './store.js';
import { discard, readUpload } from './upload.js';

export interface Settings {
  maxBytes: number;
  maxPages: number;
  taskTimeoutMs: number;
  maxConcurrent: number;
}

export function settings(ctx: ModuleContext): Settings {
  return {
    maxBytes: Math.round(ctx.config.number('MAX_UPLOAD_MB', 10) * 1024 * 1024),
    maxPages: ctx.config.number('MAX_PAGES', 50),
    taskTimeoutMs: ctx.config.number('TASK_TIMEOUT_MS', 30_000),
    maxConcurrent: ctx.config.number('MAX_CONCURRENT_UPLOADS', 4),
  };
}

export const envKey = (ctx: ModuleContext, key: string) => `MODULES__${ctx.name.toUpperCase()}__${key}`;

export type UploadOutcome =
  | { kind: 'read_only'; status: 403; body: { success: false; message: string; hint: string } }
  | { kind: 'dry_run'; status: 200; body: { success: true; dry_run: true; message: string; hint: string; invoice: ParsedInvoice } }
  | { kind: 'stored'; status: 201; id: number; body: { success: true; id: number; invoice: ParsedInvoice } };

const EXTRACT_STATUS: Record<ExtractFailure, number> = {
  encrypted_pdf: 422,
  invalid_pdf: 422,
  no_text: 422,
  too_many_pages: 422,
  not_text: 415,
};

// The router and the views are bundled separately; a process-wide counter caps them together.
const IN_FLIGHT = Symbol.for('invoice_parser.uploads_in_flight');
const counter = globalThis as unknown as Record<symbol, number>;

export function readOnlyOutcome(ctx: ModuleContext): UploadOutcome & { kind: 'read_only' } {
  const key = envKey(ctx, 'READ_ONLY');
  return {
    kind: 'read_only',
    status: 403,
    body: {
      success: false,
      message: `READ_ONLY mode: invoice uploads are refused. Set ${key}=false to allow them`,
      hint: `set ${key}=false (and ${envKey(ctx, 'DRY_RUN')}=false to store invoices)`,
    },
  };
}

async function runUpload(ctx: ModuleContext, req: Request, s: Settings): Promise<UploadOutcome> {
  const upload = await readUpload(req, s.maxBytes, ctx.error);
  const payload: ExtractPayload = { kind: upload.kind, data: upload.data, maxPages: s.maxPages };
  const extracted = await ctx.tasks.run<ExtractResult>('extract', payload, { timeoutMs: s.taskTimeoutMs });
  if (!extracted.ok) throw ctx.error(EXTRACT_STATUS[extracted.code], extracted.code, extracted.message, { file_name: upload.fileName });

  const existing = await findBySha(ctx.db, extracted.sha256);
  if (existing !== null) throw ctx.error(409, 'duplicate', `this file is already stored as invoice ${existing}`, { id: existing });

  const parsed = await ctx.tasks.run<ParseResult>('parse', { text: extracted.text }, { timeoutMs: s.taskTimeoutMs });
  if (parsed.missing.length > 0) {
    throw ctx.error(422, 'unrecognised_invoice', `no invoice found in the ${upload.kind === 'pdf' ? 'PDF' : 'text'}: missing ${parsed.missing.join(', ')}`, {
      missing: parsed.missing,
      not_found: parsed.not_found,
      parsed: parsed.invoice,
    });
  }
  const invoice = parsed.invoice;
  if (ctx.safety.dryRun) {
    ctx.log.info({ invoice_number: invoice.invoice_number }, `🧪 DRY_RUN: would store invoice ${invoice.invoice_number}`);
    const key = envKey(ctx, 'DRY_RUN');
    return {
      kind: 'dry_run',
      status: 200,
      body: { success: true, dry_run: true, message: `DRY_RUN mode: parsed, not stored. Set ${key}=false to store invoices`, hint: `set ${key}=false to store invoices`, invoice },
    };
  }
  let id: number;
  try {
    id = await insertInvoice(ctx.db, invoice, {
      kind: upload.kind,
      fileName: upload.fileName,
      size: upload.data.length,
      sha256: extracted.sha256,
      pages: extracted.pages,
      text: extracted.text,
    });
  } catch (e) {
    // two uploads of one file racing past the check above: the unique index decides
    if ((e as { code?: string }).code === '23505') {
      const other = await findBySha(ctx.db, extracted.sha256);
      throw ctx.error(409, 'duplicate', `this file is already stored as invoice ${other}`, { id: other });
    }
    throw e;
  }
  ctx.log.info({ id, invoice_number: invoice.invoice_number, lines: invoice.lines.length }, `🧾 Stored invoice ${invoice.invoice_number} as ${id}`);
  return { kind: 'stored', status: 201, id, body: { success: true, id, invoice } };
}

export async function handleUpload(ctx: ModuleContext, req: Request): Promise<UploadOutcome> {
  if (ctx.safety.readOnly) {
    // refuse before reading: parsing an upload that cannot be stored would only cost CPU
    discard(req);
    ctx.log.info('🔒 READ_ONLY: refused an invoice upload');
    return readOnlyOutcome(ctx);
  }
  const s = settings(ctx);
  if ((counter[IN_FLIGHT] ?? 0) >= s.maxConcurrent) {
    discard(req);
    throw ctx.error(503, 'busy', `${s.maxConcurrent} uploads are being parsed; try again in a few seconds`, { retry_after_s: 5 });
  }
  counter[IN_FLIGHT] = (counter[IN_FLIGHT] ?? 0) + 1;
  try {
    return await runUpload(ctx, req, s);
  } finally {
    counter[IN_FLIGHT] = (counter[IN_FLIGHT] ?? 1) - 1;
  }
}
