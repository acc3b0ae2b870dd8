// invoice_parser end to end, through real kernels, children, worker pools and PostgreSQL:
// PDFs made in the test are uploaded, parsed, stored and read back; bad input gets a clear
// 4xx with nothing stored; READ_ONLY and DRY_RUN (the defaults) block writes as promised.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { HUB_ROOT } from '../shared/paths.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { authorize, signIn } from './helpers/identity.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { tempDir } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';
import { danishInvoice, emptyPdf, encryptedPdf, englishInvoice, letterPdf, restrictedPdf, textInvoice } from './helpers/invoices.js';

const API = '/api/v1/invoice_parser';
const MB = 1024 * 1024;
const dbs: TestDatabase[] = [];
let k: RunningKernel; // writes allowed
let defaults: RunningKernel; // READ_ONLY and DRY_RUN as shipped
let dryRun: RunningKernel; // READ_ONLY off, DRY_RUN as shipped
let writable: TestDatabase;
let pdfs: Record<'en' | 'da' | 'letter' | 'empty' | 'encrypted' | 'restricted', Buffer>;

async function kernelWith(env: Record<string, string>): Promise<[RunningKernel, TestDatabase]> {
  const db = await createTestDatabase();
  dbs.push(db);
  const modulesDir = tempDir('modules');
  cpSync(join(HUB_ROOT, 'modules', 'invoice_parser'), join(modulesDir, 'invoice_parser'), { recursive: true });
  // invoice_parser declares permissions: these suites call it as hub.admin (the admin credential)
  const kernel = authorize(await startKernel({ modulesDir, databaseUrl: db.url, env }));
  await kernel.waitForState('invoice_parser', 'running');
  return [kernel, db];
}

beforeAll(async () => {
  const [en, da, letter, empty, encrypted, restricted] = await Promise.all([
    englishInvoice(), danishInvoice(), letterPdf(), emptyPdf(), encryptedPdf(), restrictedPdf(),
  ]);
  pdfs = { en, da, letter, empty, encrypted, restricted };
  [[k, writable], [defaults], [dryRun]] = await Promise.all([
    kernelWith({ MODULES__INVOICE_PARSER__READ_ONLY: 'false', MODULES__INVOICE_PARSER__DRY_RUN: 'false', MODULES__INVOICE_PARSER__MAX_CONCURRENT_UPLOADS: '1' }),
    kernelWith({}),
    kernelWith({ MODULES__INVOICE_PARSER__READ_ONLY: 'false' }),
  ]);
});

afterAll(async () => {
  await stopAllKernels();
  await Promise.all(dbs.map((d) => d.drop()));
});

const post = (kernel: RunningKernel, body: NonNullable<RequestInit['body']>, type?: string) =>
  kernel.get(`${API}/invoices`, { method: 'POST', body, ...(type ? { headers: { 'content-type': type } } : {}) });

function form(data: Buffer | string, name: string, type: string): FormData {
  const f = new FormData();
  f.append('file', new Blob([data], { type }), name);
  return f;
}

/** Rows in both tables, straight from the database: what "nothing stored" means. */
async function stored(db: TestDatabase): Promise<{ invoices: number; lines: number }> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    const { rows } = await c.query(
      'SELECT (SELECT count(*)::int FROM inv_invoices) AS invoices, (SELECT count(*)::int FROM inv_invoice_lines) AS lines',
    );
    return rows[0];
  } finally {
    await c.end();
  }
}

const ids: Record<string, number> = {};

describe('invoice_parser: round trips', () => {
  it('stores an English PDF sent as a raw body and reads every field back', async () => {
    const res = await post(k, new Uint8Array(pdfs.en), 'application/pdf');
    expect(res.status).toBe(201);
    const body = (await res.json()) as { success: boolean; id: number };
    expect(body.success).toBe(true);
    ids.en = body.id;
    const inv = await k.json(`${API}/invoices/${body.id}`);
    expect(inv).toMatchObject({
      vendor: 'Acme Supplies Ltd',
      invoice_number: 'INV-2024-1001',
      invoice_date: '2024-03-15',
      due_date: '2024-04-14',
      currency: 'EUR',
      subtotal: 3455,
      tax_amount: 691,
      tax_rate: 20,
      total: 4146,
      language: 'en',
      source_kind: 'pdf',
      pages: 1,
      file_size: pdfs.en.length,
    });
    expect(inv.lines).toEqual([
      { position: 1, description: 'Rack server R740', quantity: 2, unit_price: 1250, amount: 2500 },
      { position: 2, description: 'Support hours', quantity: 10, unit_price: 95.5, amount: 955 },
    ]);
  });

  it('stores a Danish PDF uploaded as a multipart form, with Danish number formats', async () => {
    const res = await post(k, form(pdfs.da, 'faktura-117.pdf', 'application/pdf'));
    expect(res.status).toBe(201);
    ids.da = ((await res.json()) as { id: number }).id;
    const inv = await k.json(`${API}/invoices/${ids.da}`);
    expect(inv).toMatchObject({
      vendor: 'Nordisk IT ApS',
      invoice_number: '2024-117',
      invoice_date: '2024-02-01',
      due_date: '2024-02-15',
      currency: 'DKK',
      subtotal: 9250.5,
      tax_amount: 2312.63,
      tax_rate: 25,
      total: 11563.13,
      language: 'da',
      file_name: 'faktura-117.pdf',
    });
    expect(inv.lines.map((l: { description: string; quantity: number; amount: number }) => [l.description, l.quantity, l.amount])).toEqual([
      ['Konsulenttimer netværk', 7.5, 6375],
      ['Switch 24 porte', 1, 2499],
      ['Kabler og stik', 3, 376.5],
    ]);
  });

  it('stores a plain-text invoice, and a PDF restricted by an owner password only', async () => {
    const text = await post(k, textInvoice, 'text/plain; charset=utf-8');
    expect(text.status).toBe(201);
    ids.text = ((await text.json()) as { id: number }).id;
    expect(await k.json(`${API}/invoices/${ids.text}`)).toMatchObject({ invoice_number: 'TXT-42', total: 4500, tax_amount: 900, currency: 'DKK', source_kind: 'text', pages: null });
    const restricted = await post(k, new Uint8Array(pdfs.restricted), 'application/pdf');
    expect(restricted.status).toBe(201);
    ids.restricted = ((await restricted.json()) as { id: number }).id;
  });

  it('lists and searches by words, invoice number, vendor and date range', async () => {
    const all = await k.json(`${API}/invoices`);
    expect(all.count).toBe(4);
    const numbers = (r: { invoices: { invoice_number: string }[] }) => r.invoices.map((i) => i.invoice_number).sort();
    expect(numbers(await k.json(`${API}/invoices?q=konsulent`))).toEqual(['2024-117']); // prefix of a line item word
    expect(numbers(await k.json(`${API}/invoices?q=rack%20server`))).toEqual(['INV-2024-1001']);
    expect(numbers(await k.json(`${API}/invoices?q=INV-2024-1001`))).toEqual(['INV-2024-1001']);
    expect(numbers(await k.json(`${API}/invoices?vendor=nordisk`))).toEqual(['2024-117']);
    expect(numbers(await k.json(`${API}/invoices?from=2024-03-01&to=2024-05-31`))).toEqual(['INV-2024-1001', 'R-500']);
    expect(numbers(await k.json(`${API}/invoices?q=nothing-like-this`))).toEqual([]);
    const bad = await k.get(`${API}/invoices?from=March`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/from must be a date as yyyy-mm-dd/);
  });

  it('refuses the same file twice, naming the stored invoice', async () => {
    const res = await post(k, new Uint8Array(pdfs.en), 'application/pdf');
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: 'duplicate', details: { id: ids.en } });
  });

  it('deletes an invoice with its lines', async () => {
    const before = await stored(writable);
    const res = await k.get(`${API}/invoices/${ids.da}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect((await k.get(`${API}/invoices/${ids.da}`)).status).toBe(404);
    expect(await stored(writable)).toEqual({ invoices: before.invoices - 1, lines: before.lines - 3 });
    expect((await k.get(`${API}/invoices/${ids.da}`, { method: 'DELETE' })).status).toBe(404);
    expect((await k.get(`${API}/invoices/abc`)).status).toBe(404);
  });
});

describe('invoice_parser: bad input gets a clear 4xx and stores nothing', () => {
  const cases: [string, () => Promise<Response>, number, RegExp][] = [
    ['not a PDF (PNG bytes sent as application/pdf)', () => post(k, new Uint8Array(Buffer.from('\x89PNG\r\n\x1a\n' + 'x'.repeat(500), 'binary')), 'application/pdf'), 415, /not a PDF/],
    ['not a PDF (a .pdf file in the form)', () => post(k, form('just some words', 'invoice.pdf', 'application/pdf')), 415, /not a PDF/],
    ['a damaged PDF', () => post(k, new Uint8Array(Buffer.from('%PDF-1.7\n' + 'garbage '.repeat(200))), 'application/pdf'), 422, /cannot be read|damaged/],
    ['an encrypted PDF', () => post(k, new Uint8Array(pdfs.encrypted), 'application/pdf'), 422, /encrypted with a password/],
    ['an empty PDF', () => post(k, new Uint8Array(pdfs.empty), 'application/pdf'), 422, /no text layer/],
    ['a PDF without invoice fields', () => post(k, new Uint8Array(pdfs.letter), 'application/pdf'), 422, /missing invoice_number, total/],
    ['an empty body', () => post(k, new Uint8Array(0), 'application/pdf'), 400, /body is empty/],
    ['JSON', () => post(k, JSON.stringify({ invoice: 1 }), 'application/json'), 415, /application\/pdf, text\/plain or a multipart form/],
    ['a form without a file', () => post(k, (() => { const f = new FormData(); f.append('note', 'hi'); return f; })()), 400, /no file/],
  ];

  for (const [what, send, status, message] of cases) {
    it(`${what} → ${status}`, async () => {
      const before = await stored(writable);
      const res = await send();
      expect(res.status).toBe(status);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.message).toMatch(message);
      expect(await stored(writable)).toEqual(before);
    });
  }

  it('lists what was missing when no invoice fields are found', async () => {
    const body = (await (await post(k, new Uint8Array(pdfs.letter), 'application/pdf')).json()) as any;
    expect(body).toMatchObject({ error: 'unrecognised_invoice', details: { missing: ['invoice_number', 'total'] } });
    expect(body.details.not_found).toEqual(expect.arrayContaining(['invoice_number', 'total', 'invoice_date', 'lines']));
  });

  it('answers a 50 MB upload with 413 JSON, whether declared, in a form or streamed without a length', async () => {
    const before = await stored(writable);
    const big = Buffer.alloc(50 * MB, 0x20);
    big.write('%PDF-1.7\n');
    const raw = await post(k, new Uint8Array(big), 'application/pdf');
    expect(raw.status).toBe(413);
    expect(await raw.json()).toMatchObject({ error: 'payload_too_large', message: expect.stringMatching(/larger than 10 MB/) });

    const multipart = await post(k, form(big, 'huge.pdf', 'application/pdf'));
    expect(multipart.status).toBe(413);

    // no Content-Length: the module has to count, and stops reading at the limit
    let sent = 0;
    const chunk = new Uint8Array(MB);
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= 50) return c.close();
        sent++;
        c.enqueue(chunk);
      },
    });
    const streamed = await k.get(`${API}/invoices`, { method: 'POST', body: stream, headers: { 'content-type': 'application/pdf' }, duplex: 'half' } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(((await streamed.json()) as { error: string }).error).toBe('payload_too_large');
    expect(await stored(writable)).toEqual(before);
    // the child survived all three and still answers
    expect((await k.get(`${API}/health`)).status).toBe(200);
  });

  it('answers 503 while the upload slots are taken, and frees the slot of a client that goes away', async () => {
    // this kernel allows one upload at a time; an empty text body is refused with 400 once it gets a slot
    const probe = async () => (await post(k, '', 'text/plain')).status;
    const ac = new AbortController();
    const stalled = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('%PDF-1.7\n')); // and then nothing, ever
      },
    });
    const pending = k
      .get(`${API}/invoices`, { method: 'POST', body: stalled, headers: { 'content-type': 'application/pdf' }, duplex: 'half', signal: ac.signal } as RequestInit)
      .catch((e: Error) => e);
    await waitFor(async () => (await probe()) === 503, { what: 'the stalled upload to hold the slot' });
    const busy = await post(k, '', 'text/plain');
    expect(busy.headers.get('retry-after')).toBe('5');
    expect(((await busy.json()) as { error: string }).error).toBe('busy');
    ac.abort();
    await pending;
    await waitFor(async () => (await probe()) === 400, { what: 'the slot to be freed' });
  });
});

describe('invoice_parser: who may call it', () => {
  it('refuses nobody signed in (401), a viewer\'s upload and a clerk\'s delete (403 forbidden)', async () => {
    const raw = (path: string, init: RequestInit = {}) => fetch(k.url + path, init);
    const anonymous = await raw(`${API}/invoices`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as any).error).toBe('unauthenticated');
    const viewer = await signIn(k, 'ivy', ['invoice_parser.viewer']);
    const clerk = await signIn(k, 'carl', ['invoice_parser.clerk']);
    const as = (u: { cookie: string }, path: string, init: RequestInit = {}) => raw(path, { ...init, headers: { ...(init.headers as object), cookie: u.cookie } });
    expect((await as(viewer, `${API}/invoices`)).status).toBe(200);
    const upload = await as(viewer, `${API}/invoices`, { method: 'POST', body: pdfs.en, headers: { 'content-type': 'application/pdf' } });
    expect(upload.status).toBe(403);
    expect(((await upload.json()) as any).error).toBe('forbidden');
    const del = await as(clerk, `${API}/invoices/1`, { method: 'DELETE' });
    expect(del.status).toBe(403);
    expect(((await del.json()) as any).error).toBe('forbidden');
  });
});

describe('invoice_parser: pages', () => {
  it('renders the upload form and the list, and stores an upload posted from the form', async () => {
    const page = await k.get('/invoice_parser');
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toMatch(/enctype="multipart\/form-data"/);
    expect(html).toMatch(/INV-2024-1001/);
    expect(html).not.toMatch(/READ_ONLY is on|DRY_RUN is on/);

    const upload = await k.get('/invoice_parser/upload', { method: 'POST', body: form(pdfs.da, 'da.pdf', 'application/pdf'), redirect: 'manual' });
    expect(upload.status).toBe(303);
    const location = upload.headers.get('location')!;
    expect(location).toMatch(/^\/invoice_parser\/invoices\/\d+\?stored=1$/);
    const detail = await (await k.get(location)).text();
    expect(detail).toMatch(/Invoice 2024-117/);
    expect(detail).toMatch(/Konsulenttimer netværk/);
    expect(detail).toMatch(/11,563\.13/);

    const bad = await k.get('/invoice_parser/upload', { method: 'POST', body: form(pdfs.encrypted, 'enc.pdf', 'application/pdf') });
    expect(bad.status).toBe(422);
    expect(await bad.text()).toMatch(/encrypted with a password/);
    expect((await k.get('/invoice_parser/invoices/999999')).status).toBe(404);
  });
});

describe('invoice_parser: READ_ONLY and DRY_RUN', () => {
  it('refuses uploads under the default READ_ONLY, naming the setting, and says so on the page', async () => {
    const res = await post(defaults, new Uint8Array(pdfs.en), 'application/pdf');
    expect(res.status).toBe(403);
    const body = (await res.json()) as { success: boolean; message: string };
    expect(body.success).toBe(false);
    expect(body.message).toMatch(/^READ_ONLY mode/);
    expect(body.message).toMatch(/MODULES__INVOICE_PARSER__READ_ONLY=false/);
    expect((await defaults.json(`${API}/invoices`)).count).toBe(0);
    expect((await defaults.get(`${API}/invoices/1`, { method: 'DELETE' })).status).toBe(403);

    const html = await (await defaults.get('/invoice_parser')).text();
    expect(html).toMatch(/READ_ONLY is on: uploads are refused/);
    expect(html).toMatch(/MODULES__INVOICE_PARSER__READ_ONLY=false/);
    expect(html).toMatch(/MODULES__INVOICE_PARSER__DRY_RUN=false/);
    const viaPage = await defaults.get('/invoice_parser/upload', { method: 'POST', body: form(pdfs.en, 'en.pdf', 'application/pdf') });
    expect(viaPage.status).toBe(403);
  });

  it('parses but stores nothing under DRY_RUN, answering the fields with dry_run: true', async () => {
    const res = await post(dryRun, new Uint8Array(pdfs.da), 'application/pdf');
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body).toMatchObject({ success: true, dry_run: true, invoice: { invoice_number: '2024-117', total: 11563.13, currency: 'DKK' } });
    expect(body.invoice.lines).toHaveLength(3);
    expect(body.hint).toMatch(/MODULES__INVOICE_PARSER__DRY_RUN=false/);
    expect((await dryRun.json(`${API}/invoices`)).count).toBe(0);

    const page = await dryRun.get('/invoice_parser/upload', { method: 'POST', body: form(pdfs.en, 'en.pdf', 'application/pdf') });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toMatch(/DRY_RUN is on: uploads are parsed and shown, not stored/);
    expect(html).toMatch(/Parsed \(not stored\)/);
    expect(html).toMatch(/INV-2024-1001/);
    expect((await dryRun.json(`${API}/invoices`)).count).toBe(0);
  });
});
