// Sample invoices for the invoice_parser tests, made on the spot with pdfkit: laid out in
// columns as accounting systems print them, so text extraction has real layout to undo.
import PDFDocument from 'pdfkit';

export function makePdf(draw: (doc: PDFKit.PDFDocument) => void, opts: PDFKit.PDFDocumentOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const doc = new PDFDocument({ size: 'A4', margin: 40, ...opts });
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    draw(doc);
    doc.end();
  });
}

const COLUMNS = [50, 300, 380, 470];

function row(doc: PDFKit.PDFDocument, y: number, cells: string[]): void {
  cells.forEach((text, i) => {
    if (i === 0) doc.text(text, COLUMNS[0]!, y, { lineBreak: false });
    else doc.text(text, COLUMNS[i]!, y, { width: 75, align: 'right', lineBreak: false });
  });
}

function invoice(doc: PDFKit.PDFDocument, head: string[], title: string, meta: string[], table: string[][], totals: [string, string][]): void {
  doc.font('Helvetica-Bold').fontSize(16).text(head[0]!, 50, 50, { lineBreak: false });
  doc.font('Helvetica').fontSize(10);
  head.slice(1).forEach((l, i) => doc.text(l, 50, 72 + i * 14, { lineBreak: false }));
  doc.font('Helvetica-Bold').fontSize(20).text(title, 420, 50, { lineBreak: false });
  doc.font('Helvetica').fontSize(10);
  meta.forEach((l, i) => doc.text(l, 350, 90 + i * 14, { lineBreak: false }));
  let y = 200;
  doc.font('Helvetica-Bold');
  row(doc, y, table[0]!);
  doc.font('Helvetica');
  for (const cells of table.slice(1)) row(doc, (y += 18), cells);
  y += 12;
  for (const [label, value] of totals) {
    y += 16;
    doc.text(label, 300, y, { lineBreak: false });
    doc.text(value, 420, y, { width: 125, align: 'right', lineBreak: false });
  }
}

export const englishInvoice = () =>
  makePdf((doc) =>
    invoice(
      doc,
      ['Acme Supplies Ltd', '12 High Street, London EC1 4AB', 'VAT reg. GB123456789'],
      'INVOICE',
      ['Invoice no: INV-2024-1001', 'Invoice date: 15 March 2024', 'Due date: 14/04/2024', 'Bill to: BMC Networks'],
      [
        ['Description', 'Qty', 'Unit price', 'Amount'],
        ['Rack server R740', '2', '1,250.00', '2,500.00'],
        ['Support hours', '10', '95.50', '955.00'],
      ],
      [
        ['Subtotal', '3,455.00'],
        ['VAT (20%)', '691.00'],
        ['Total due', 'EUR 4,146.00'],
      ],
    ),
  );

export const danishInvoice = () =>
  makePdf((doc) =>
    invoice(
      doc,
      ['Nordisk IT ApS', 'Søndergade 4, 8000 Aarhus C', 'CVR-nr. 12345678'],
      'FAKTURA',
      ['Fakturanr.: 2024-117', 'Fakturadato: 01.02.2024', 'Forfaldsdato: 15.02.2024', 'Kunde: BMC Networks'],
      [
        ['Beskrivelse', 'Antal', 'Pris', 'Beløb'],
        ['Konsulenttimer netværk', '7,5', '850,00', '6.375,00'],
        ['Switch 24 porte', '1', '2.499,00', '2.499,00'],
        ['Kabler og stik', '3', '125,50', '376,50'],
      ],
      [
        ['Subtotal', '9.250,50'],
        ['Moms 25%', '2.312,63'],
        ['I alt DKK', '11.563,13'],
      ],
    ),
  );

/** Text, but nothing an invoice is made of. */
export const letterPdf = () =>
  makePdf((doc) => doc.fontSize(12).text('Dear customer,\n\nThank you for visiting our booth at the fair.\n\nKind regards,\nThe team'));

export const emptyPdf = () => makePdf(() => undefined);

/** Needs a password to open. */
export const encryptedPdf = () =>
  makePdf((doc) => doc.text('Invoice no: SECRET-1\nTotal: 100.00'), { userPassword: 'secret', ownerPassword: 'owner' });

/** Opens without a password; only editing and printing rights are restricted. */
export const restrictedPdf = () =>
  makePdf((doc) => doc.text('Restricted Corp\nInvoice no: R-500\nDate: 2024-05-02\nTotal: USD 500.00'), {
    ownerPassword: 'owner',
    permissions: { modifying: false, copying: true },
  });

export const textInvoice = `Bits & Bytes A/S
Invoice #TXT-42
Date: 2024-06-01
Payment due: 2024-07-01

Description       Qty    Price      Amount
USB-C dock         3     1.200,00   3.600,00

Subtotal                            3.600,00
Moms 25%                              900,00
I alt DKK                           4.500,00
`;
