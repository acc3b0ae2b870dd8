// The invoice parser's own behaviour, through the real gateway (run by `hubctl test invoice_parser`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModule, type RunningModule, type SignedInUser } from 'bmc-hub/testing';

const invoice = `Bits & Bytes A/S
Invoice #TXT-42
Date: 2024-06-01
Payment due: 2024-07-01

Description       Qty    Price      Amount
USB-C dock         3     1.200,00   3.600,00

Subtotal                            3.600,00
Moms 25%                              900,00
I alt DKK                           4.500,00
`;

let m: RunningModule;
let viewer: SignedInUser;
let clerk: SignedInUser;
let manager: SignedInUser;

beforeAll(async () => {
  m = await startModule('invoice_parser', { safety: { allowWrites: true } });
  [viewer, clerk, manager] = await Promise.all([
    m.signIn({ grants: ['invoice_parser.viewer'] }),
    m.signIn({ grants: ['invoice_parser.clerk'] }),
    m.signIn({ grants: ['invoice_parser.manager'] }),
  ]);
});
afterAll(() => m?.stop());

const upload = (user: SignedInUser, body: string) =>
  m.api('/invoices', { method: 'POST', body, headers: { ...user.headers, 'content-type': 'text/plain; charset=utf-8' } });

describe('invoice_parser', () => {
  it('a clerk uploads a text invoice: its fields are parsed and stored, a second upload of it is a conflict', async () => {
    const res = await upload(clerk, invoice);
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: number };
    expect(await (await m.api(`/invoices/${id}`, { headers: viewer.headers })).json()).toMatchObject({ invoice_number: 'TXT-42', total: 4500, tax_amount: 900, currency: 'DKK' });
    expect(await m.db.one('SELECT invoice_number FROM inv_invoices WHERE id = $1', [id])).toEqual({ invoice_number: 'TXT-42' });
    expect((await upload(clerk, invoice)).status).toBe(409);

    const found = (await (await m.api('/invoices?q=dock', { headers: viewer.headers })).json()) as { count: number };
    expect(found.count).toBe(1);
  });

  it('each role gets only its own permissions', async () => {
    expect((await upload(viewer, invoice)).status).toBe(403);
    const { id } = (await m.db.one<{ id: number }>('SELECT id FROM inv_invoices ORDER BY id LIMIT 1'))!;
    expect((await m.api(`/invoices/${id}`, { method: 'DELETE', headers: clerk.headers })).status).toBe(403);
    expect((await m.api(`/invoices/${id}`, { method: 'DELETE', headers: manager.headers })).status).toBe(200);
    expect(await m.db.one('SELECT id FROM inv_invoices WHERE id = $1', [id])).toBeNull();
  });

  it('an empty or unreadable upload is refused with a reason', async () => {
    expect((await upload(clerk, '')).status).toBe(400);
    const res = await upload(clerk, 'hello, this is no invoice');
    expect(res.status).toBe(422);
    expect(((await res.json()) as { message: string }).message).toMatch(/invoice number|total/);
  });
});
