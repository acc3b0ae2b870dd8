// Pages at /invoice_parser: upload form and searchable list, and one invoice's detail,
// inside the hub's layout (ctx.page).
// The upload form posts here (not to the API) so the browser gets a page back, not JSON.
import type { ModuleContext, Response, Router } from '../../../shared/module-api.js';
import { envKey, handleUpload, settings } from '../backend/pipeline.js';
import { getInvoice, listInvoices, parseId, parseListFilter, type ListFilter } from '../backend/store.js';
import type { ParsedInvoice } from '../backend/types.js';

const money = (n: number | null | undefined) =>
  n === null || n === undefined ? '—' : n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

interface IndexState {
  status?: number;
  error?: string | null;
  details?: Record<string, unknown> | null;
  notice?: string | null;
  preview?: ParsedInvoice | null;
  filter?: ListFilter | null;
}

export default function views(router: Router, ctx: ModuleContext): void {
  const base = `/${ctx.name}`;
  const page = {
    module: ctx.manifest,
    base,
    api: ctx.manifest.api_prefix,
    safety: { readOnly: ctx.safety.readOnly, dryRun: ctx.safety.dryRun },
    keys: { readOnly: envKey(ctx, 'READ_ONLY'), dryRun: envKey(ctx, 'DRY_RUN') },
    maxMb: Math.round(settings(ctx).maxBytes / 1024 / 1024),
    money,
  };

  async function renderIndex(res: Response, state: IndexState): Promise<void> {
    const filter = state.filter ?? { limit: 50, offset: 0 };
    const list = await listInvoices(ctx.db, filter).catch((e: Error) => {
      state.error ??= `cannot list invoices: ${e.message}`;
      return { invoices: [], count: 0 };
    });
    await ctx.page(res, 'index', {
      ...page,
      ...list,
      query: { q: filter.q ?? '', vendor: filter.vendor ?? '', from: filter.from ?? '', to: filter.to ?? '' },
      error: state.error ?? null,
      details: state.details ?? null,
      notice: state.notice ?? null,
      preview: state.preview ?? null,
    }, { title: 'Invoices', status: state.status ?? 200 });
  }

  router.get('/', ctx.auth.require('read'), async (req, res) => {
    const filter = parseListFilter(req.query as Record<string, unknown>);
    if (typeof filter === 'string') return renderIndex(res, { status: 400, error: filter });
    await renderIndex(res, { filter });
  });

  router.post('/upload', ctx.auth.require('upload'), async (req, res) => {
    try {
      const out = await handleUpload(ctx, req);
      if (out.kind === 'stored') return void res.redirect(303, `${base}/invoices/${out.id}?stored=1`);
      if (out.kind === 'dry_run') return renderIndex(res, { notice: out.body.message, preview: out.body.invoice });
      return renderIndex(res, { status: out.status, error: out.body.message });
    } catch (e) {
      // a refusal (ctx.error): its status, message and details go on the page
      const refusal = e as { name?: string; status?: number; message?: string; details?: { missing?: string[]; id?: number } };
      if (refusal.name === 'ModuleError' && typeof refusal.status === 'number') {
        const { missing, id } = refusal.details ?? {};
        return renderIndex(res, { status: refusal.status, error: refusal.message ?? '', details: { missing: missing ?? null, duplicateOf: id ?? null } });
      }
      const err = e as { status?: number; message?: string };
      ctx.log.error({ err: e }, `💥 upload page: ${err.message}`);
      return renderIndex(res, { status: typeof err.status === 'number' ? err.status : 500, error: `the upload failed: ${err.message ?? String(e)}` });
    }
  });

  router.get('/invoices/:id', ctx.auth.require('read'), async (req, res) => {
    const id = parseId(req.params.id);
    const invoice = id === null ? null : await getInvoice(ctx.db, id);
    const title = invoice ? `Invoice ${invoice.invoice_number}` : 'Invoice not found';
    await ctx.page(res, 'detail', { ...page, invoice, id: req.params.id, stored: req.query.stored === '1' }, { title, status: invoice ? 200 : 404 });
  });
}
