// invoice_parser's field parser on its own: number and date notations, Danish and English
// labels, values below their labels, and the figures it derives from the others.
import { describe, expect, it } from 'vitest';
import { parseInvoiceText } from '../modules/invoice_parser/backend/parsing/fields.js';
import { amountsIn, parseDate, parseNumber } from '../modules/invoice_parser/backend/parsing/values.js';

describe('amounts', () => {
  it.each([
    ['1.234,56', 1234.56],
    ['1,234.56', 1234.56],
    ['1.234.567,89', 1234567.89],
    ['1,234,567', 1234567],
    ['1.234', 1234],
    ['12,5', 12.5],
    ['0.50', 0.5],
    ['-45,00', -45],
    ['12.34.5', null],
    ['1,23,456', null],
  ])('%s → %s', (text, value) => expect(parseNumber(text)).toBe(value));

  it('skips dates, percentages, currency marks and codes inside identifiers', () => {
    expect(amountsIn('Moms 25% kr. 250,00')).toEqual([250]);
    expect(amountsIn('15.03.2024 Total € 1,000.00')).toEqual([1000]);
    expect(amountsIn('Ref INV-1001 total 5')).toEqual([5]);
  });
});

describe('dates', () => {
  it.each([
    ['2024-03-15', false, '2024-03-15'],
    ['15.03.2024', false, '2024-03-15'],
    ['04/05/2024', false, '2024-05-04'],
    ['04/05/2024', true, '2024-04-05'],
    ['13/05/2024', true, '2024-05-13'],
    ['15. marts 2024', false, '2024-03-15'],
    ['1 okt. 2024', false, '2024-10-01'],
    ['March 5th, 2024', false, '2024-03-05'],
    ['31.02.2024', false, null],
  ])('%s (month first: %s) → %s', (text, monthFirst, iso) => expect(parseDate(text, monthFirst)).toBe(iso));
});

describe('fields', () => {
  it('reads a Danish invoice with the values under their labels', () => {
    const { invoice, missing } = parseInvoiceText(`Elektro Syd ApS
Faktura
Fakturanummer
88123
Dato
3. januar 2025
Sidste rettidige betalingsdato
17.01.2025
Varebeløb 1.000,00
Moms 250,00
At betale kr. 1.250,00`);
    expect(missing).toEqual([]);
    expect(invoice).toMatchObject({
      vendor: 'Elektro Syd ApS',
      invoice_number: '88123',
      invoice_date: '2025-01-03',
      due_date: '2025-01-17',
      currency: 'DKK',
      subtotal: 1000,
      tax_amount: 250,
      tax_rate: 25,
      total: 1250,
      language: 'da',
    });
  });

  it('takes the invoice total over a smaller amount due, and derives the subtotal', () => {
    const { invoice } = parseInvoiceText(`From: Widget Co
VAT no. 12345678
Invoice #A-77
Date: 04/05/2024
Tax 8.5% 85.00
Total 1,085.00
Amount paid 1,000.00
Balance due $85.00`);
    expect(invoice).toMatchObject({ vendor: 'Widget Co', invoice_number: 'A-77', invoice_date: '2024-04-05', currency: 'USD', total: 1085, tax_amount: 85, tax_rate: 8.5, subtotal: 1000 });
  });

  it('reads line items below a table header, up to the totals', () => {
    const { invoice } = parseInvoiceText(`Acme
Invoice no. 5
Description   Qty   Price   Amount
Cable, 2 m   4   12.50   50.00
Consulting   2 hrs   100.00   200.00
Setup fee   1   75.00
Total 325.00`);
    expect(invoice.lines).toEqual([
      { position: 1, description: 'Cable, 2 m', quantity: 4, unit_price: 12.5, amount: 50 },
      { position: 2, description: 'Consulting', quantity: 2, unit_price: 100, amount: 200 },
      { position: 3, description: 'Setup fee', quantity: 1, unit_price: 75, amount: 75 },
    ]);
  });

  it('reports the required fields it could not find', () => {
    const r = parseInvoiceText('Dear customer,\nthank you for your order.');
    expect(r.missing).toEqual(['invoice_number', 'total']);
    expect(r.not_found).toEqual(expect.arrayContaining(['invoice_number', 'total', 'currency', 'lines']));
  });
});
