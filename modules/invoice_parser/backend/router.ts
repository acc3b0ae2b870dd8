// Invoice API: upload (POST, behind READ_ONLY/DRY_RUN), list and search, detail, delete.
import type { ModuleContext, Response, Router } from '../../../shared/module-api.js';
import { handleUpload } from './pipeline.js';
import { deleteInvoice, getInvoice, listInvoices, parseId, parseListFilter } from './store.js';

const notFound = (res: Response, id: unknown) => res.status(404).json({ error: 'not_found', message: `no invoice ${String(id).slice(0, 40)}` });

export default function routes(router: Router, ctx: ModuleContext): void {
  router.post('/invoices', ctx.auth.require('upload'), async (req, res) => {
    try {
      const out = await handleUpload(ctx, req);
      res.status(out.status).json(out.body);
    } catch (e) {
      // refusals are ctx.error values; the runtime answers them (and task or database errors) in the one shape
      if ((e as { status?: number }).status === 503) res.setHeader('Retry-After', '5');
      throw e;
    }
  });

  router.get('/invoices', ctx.auth.require('read'), async (req, res) => {
    const filter = parseListFilter(req.query as Record<string, unknown>);
    if (typeof filter === 'string') return void res.status(400).json({ error: 'bad_request', message: filter });
    res.json({ ...(await listInvoices(ctx.db, filter)), limit: filter.limit, offset: filter.offset });
  });

  router.get('/invoices/:id', ctx.auth.require('read'), async (req, res) => {
    const id = parseId(req.params.id);
    const invoice = id === null ? null : await getInvoice(ctx.db, id);
    if (!invoice) return void notFound(res, req.params.id);
    res.json(invoice);
  });

  router.delete('/invoices/:id', ctx.auth.require('delete'), async (req, res) => {
    const id = parseId(req.params.id);
    if (id === null) return void notFound(res, req.params.id);
    if (!ctx.safety.allowWrite(res, `delete invoice ${id}`)) return;
    if (!(await deleteInvoice(ctx.db, id))) return void notFound(res, id);
    ctx.log.info({ id }, `🗑️ Deleted invoice ${id}`);
    res.json({ success: true, id });
  });

  const json = (schema: Record<string, unknown>) => ({ content: { 'application/json': { schema } } });
  const err = (description: string) => ({ description, ...json({ type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } } }) });
  ctx.docs?.('post', '/invoices', {
    summary: 'Upload an invoice (PDF or plain text) and store its parsed fields',
    description:
      'Send the file as the raw body (application/pdf or text/plain, optional ?filename=) or as one file of a multipart form. ' +
      'READ_ONLY answers 403, DRY_RUN parses and answers the fields without storing them.',
    requestBody: {
      content: {
        'application/pdf': { schema: { type: 'string', format: 'binary' } },
        'text/plain': { schema: { type: 'string' } },
        'multipart/form-data': { schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' } } } },
      },
    },
    responses: {
      '201': { description: 'stored: { success, id, invoice }' },
      '200': { description: 'DRY_RUN: { success, dry_run: true, invoice }, nothing stored' },
      '403': err('READ_ONLY mode'),
      '409': err('the same file is already stored'),
      '413': err('larger than MAX_UPLOAD_MB'),
      '415': err('not a PDF or plain text'),
      '422': err('encrypted, empty or unreadable PDF, or no invoice number / total found (lists what is missing)'),
    },
  });
  ctx.docs?.('get', '/invoices', {
    summary: 'List and search invoices',
    parameters: [
      { name: 'q', in: 'query', description: 'full-text search (prefix match on every word) and invoice number', schema: { type: 'string' } },
      { name: 'vendor', in: 'query', description: 'part of the vendor name', schema: { type: 'string' } },
      { name: 'from', in: 'query', description: 'invoice date on or after (yyyy-mm-dd)', schema: { type: 'string', format: 'date' } },
      { name: 'to', in: 'query', description: 'invoice date on or before (yyyy-mm-dd)', schema: { type: 'string', format: 'date' } },
      { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
      { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
    ],
    responses: { '200': { description: '{ invoices, count, limit, offset }' }, '400': err('a bad filter value') },
  });
  ctx.docs?.('get', '/invoices/:id', { summary: 'One invoice with its lines', responses: { '200': { description: 'the invoice' }, '404': err('no such invoice') } });
  ctx.docs?.('delete', '/invoices/:id', { summary: 'Delete an invoice and its lines', responses: { '200': { description: 'deleted' }, '403': err('READ_ONLY mode'), '404': err('no such invoice') } });
}
