// Turns an invoice's text into fields. Invoices put a label and its value on one line
// ("Fakturanr.: 2024-117") or the value on the line below the label; both are read.
// Labels are matched in English and Danish; amounts and dates through values.ts.
import type { InvoiceLine, ParsedInvoice, ParseResult } from '../types.js';
import { amountsIn, currencyIn, dominantCurrency, parseDate, parseNumber, percentIn, round2 } from './values.js';

export const REQUIRED_FIELDS = ['invoice_number', 'total'] as const;

const INVOICE_NO =
  /(?:\b(?:invoice|inv\.?|faktura|bill)\s*#|\b(?:invoice\s*(?:no\.?|number|num\.?|nr\.?)|inv\.?\s*no\.?|faktura\s*(?:nr\.?|nummer|no\.?)|fakturanr\.?|fakturanummer|bill\s*no\.?)(?![a-zæøå]))/i;
// "Invoice 2024-0042", "FAKTURA #881": the title word directly followed by a number
const TITLE_NO = /^\s*(?:tax\s+)?(?:invoice|faktura)\s*[:#]?\s*(?=[A-Z0-9-]*\d)/i;
const NUMBER_VALUE = /^[\s:#.]*([A-Z0-9][A-Z0-9\-/._]*)/i;

const DUE_DATE = /\b(?:due\s+date|payment\s+due|due\s+by|due|forfaldsdato|forfald|betalingsfrist|sidste\s+rettidige\s+betalingsdato|betales\s+senest)\b/i;
const INVOICE_DATE = /\b(?:invoice\s+date|issue\s+date|date\s+of\s+issue|issued|fakturadato|faktura\s+dato|udstedt|dato|(?<!due\s)date)\b/i;

const SUBTOTAL = /^\s*(?:sub[\s-]?total|net\s+amount|net\s+total|netto(?:beløb)?|momsgrundlag|varebeløb|(?:total|amount|beløb|i\s+alt)\s+(?:excl|ekskl|ex)\b\.?)/i;
const TOTAL = /^\s*(?:grand\s+total|total\s+(?:due|amount|incl\b\.?|inkl\b\.?|to\s+pay|payable)|amount\s+(?:due|payable)|balance\s+due|invoice\s+total|total|i\s+alt|at\s+betale|beløb\s+at\s+betale|total\s+at\s+betale|fakturabeløb|totalbeløb)(?![a-zæøå])/i;
const TAX = /^\s*(?:vat|tax|sales\s+tax|gst|moms|mva|heraf\s+moms|udgående\s+moms|\d+(?:[.,]\d+)?\s*%\s*(?:vat|moms|tax))(?![a-zæøå])/i;
// "VAT reg. no DK12345678", "Moms nr.": registration numbers, not amounts
const TAX_ID = /^\s*(?:vat|tax|moms|mva)\s*(?:reg\b|registration|no\b|number|nr\b|id\b|#|code)/i;

const VENDOR = /^\s*(?:from|seller|vendor|supplier|billed\s+by|issued\s+by|leverandør|sælger|afsender|fra)\s*:/i;
const TITLE_LINE = /^\s*(?:tax\s+)?(?:invoice|faktura|kreditnota|credit\s+note|receipt|kvittering)\s*$/i;
const ITEM_HEADER_DESC = /\b(?:description|item|items|product|service|beskrivelse|vare|varenr|tekst|ydelse|produkt|specifikation)\b/i;
const ITEM_HEADER_NUM = /\b(?:qty|quantity|antal|amount|beløb|price|pris|total|i\s+alt|stk)\b/i;
// description, then quantity (maybe with a unit), unit price and line amount at the end
const ITEM_3 = /^(.*?[\p{L}].*?)\s+(-?\d+(?:[.,]\d+)?)\s*(?:x|stk\.?|pcs\.?|timer|hours|hrs?|units?|h)?\s+(?:[A-Z]{3}\s+|[€$£]\s?|kr\.?\s+)?(-?\d[\d.,]*)\s+(?:[A-Z]{3}\s+|[€$£]\s?|kr\.?\s+)?(-?\d[\d.,]*)\s*(?:[A-Z]{3}|kr\.?)?$/u;
const ITEM_2 = /^(.*?[\p{L}].*?)\s+(-?\d+(?:[.,]\d+)?)\s*(?:x|stk\.?|pcs\.?|timer|hours|hrs?|units?|h)?\s+(?:[A-Z]{3}\s+|[€$£]\s?|kr\.?\s+)?(-?\d[\d.,]*)\s*(?:[A-Z]{3}|kr\.?)?$/u;

const DANISH_WORDS = /\b(?:faktura|fakturanr|moms|i alt|beløb|antal|forfaldsdato|forfald|dato|stk|pris|beskrivelse|betaling|ekskl|inkl|kr)\b/gi;
const ENGLISH_WORDS = /\b(?:invoice|total|vat|tax|due|qty|quantity|description|price|amount|date|payment|subtotal|excl|incl)\b/gi;

function detectLanguage(text: string): 'en' | 'da' | null {
  const da = text.match(DANISH_WORDS)?.length ?? 0;
  const en = text.match(ENGLISH_WORDS)?.length ?? 0;
  if (da === 0 && en === 0) return null;
  return da > en ? 'da' : 'en';
}

/** The value after a label on its line, or on the next non-empty line when the label stands alone. */
function afterLabel(lines: string[], label: RegExp, read: (s: string) => string | null): string | null {
  for (let i = 0; i < lines.length; i++) {
    const m = label.exec(lines[i]!);
    if (!m) continue;
    const rest = lines[i]!.slice(m.index + m[0].length);
    const here = read(rest);
    if (here) return here;
    if (rest.replace(/[\s:#.]/g, '') === '') {
      const next = lines.slice(i + 1).find((l) => l.trim() !== '');
      const below = next !== undefined ? read(next) : null;
      if (below) return below;
    }
  }
  return null;
}

function readInvoiceNumber(rest: string): string | null {
  const m = NUMBER_VALUE.exec(rest);
  const v = m?.[1]?.replace(/[._/-]+$/, '');
  return v && /\d/.test(v) && v.length <= 40 ? v : null;
}

/** The amount on a labelled line: its last one, or the one alone on the next line. */
function labelledAmounts(lines: string[], label: RegExp, exclude?: RegExp): { amount: number; line: string }[] {
  const out: { amount: number; line: string }[] = [];
  lines.forEach((line, i) => {
    if (!label.test(line) || exclude?.test(line)) return;
    const here = amountsIn(line.replace(label, ' '));
    if (here.length > 0) return void out.push({ amount: here.at(-1)!, line });
    const next = lines[i + 1];
    if (next !== undefined && /^[\s\d.,€$£kKrRA-Z-]*$/.test(next)) {
      const below = amountsIn(next);
      if (below.length > 0) out.push({ amount: below.at(-1)!, line: `${line} ${next}` });
    }
  });
  return out;
}

function findVendor(lines: string[]): string | null {
  const labelled = afterLabel(lines, VENDOR, (s) => (s.trim().length >= 2 ? s.trim().split(/\s{2,}/)[0]! : null));
  if (labelled) return labelled.slice(0, 200);
  // otherwise the sender's name heads the page: the first line that is not a title or a label
  const labels = [INVOICE_NO, TITLE_NO, DUE_DATE, INVOICE_DATE, SUBTOTAL, TOTAL, TAX, ITEM_HEADER_DESC];
  for (const raw of lines.slice(0, 15)) {
    const line = raw.trim().split(/\s{2,}/)[0]!.trim();
    if (line.length < 2 || !/\p{L}{2}/u.test(line) || TITLE_LINE.test(line)) continue;
    if (labels.some((re) => re.test(line)) || /^(?:to|bill\s+to|ship\s+to|til|kunde|customer)\b/i.test(line)) continue;
    return line.slice(0, 200);
  }
  return null;
}

function parseItem(line: string, position: number): InvoiceLine | null {
  const text = line.trim().replace(/\s+/g, ' ');
  const three = ITEM_3.exec(text);
  if (three) {
    const [q, u, a] = [parseNumber(three[2]!), parseNumber(three[3]!), parseNumber(three[4]!)];
    if (q !== null && u !== null && a !== null) return { position, description: three[1]!.trim(), quantity: q, unit_price: u, amount: a };
  }
  const two = ITEM_2.exec(text);
  if (two) {
    const [q, a] = [parseNumber(two[2]!), parseNumber(two[3]!)];
    if (q !== null && a !== null && Number.isInteger(q) && q !== 0) {
      return { position, description: two[1]!.trim(), quantity: q, unit_price: round2(a / q), amount: a };
    }
  }
  return null;
}

/** Line items sit between the table header (or the top) and the first totals line. */
function findLines(lines: string[]): InvoiceLine[] {
  const header = lines.findIndex((l) => ITEM_HEADER_DESC.test(l) && ITEM_HEADER_NUM.test(l));
  const start = header >= 0 ? header + 1 : 0;
  const totalsAt = lines.findIndex((l, i) => i >= start && (SUBTOTAL.test(l) || TOTAL.test(l) || TAX.test(l)));
  const end = totalsAt >= 0 ? totalsAt : lines.length;
  const out: InvoiceLine[] = [];
  for (const line of lines.slice(start, end)) {
    if (header < 0 && !ITEM_3.test(line.trim().replace(/\s+/g, ' '))) continue; // no table header: only full rows count
    if (INVOICE_NO.test(line) || DUE_DATE.test(line) || INVOICE_DATE.test(line)) continue;
    const item = parseItem(line, out.length + 1);
    if (item) out.push(item);
    if (out.length >= 500) break;
  }
  return out;
}

export function parseInvoiceText(text: string): ParseResult {
  const lines = text.replace(/\r\n?/g, '\n').split('\n').map((l) => l.replace(/\u00a0/g, ' ').trimEnd()).filter((l) => l.trim() !== '');
  const language = detectLanguage(text);
  const explicitCurrency = dominantCurrency(lines, false);
  const monthFirst = explicitCurrency === 'USD';

  const invoice_number =
    afterLabel(lines, INVOICE_NO, readInvoiceNumber) ?? afterLabel(lines, TITLE_NO, readInvoiceNumber);
  const due_date = afterLabel(lines, DUE_DATE, (s) => parseDate(s, monthFirst));
  const invoice_date = afterLabel(lines, INVOICE_DATE, (s) => parseDate(s, monthFirst));

  const subtotals = labelledAmounts(lines, SUBTOTAL);
  const totals = labelledAmounts(lines, TOTAL, SUBTOTAL);
  const taxes = labelledAmounts(lines, TAX, new RegExp(`${SUBTOTAL.source}|${TAX_ID.source}`, 'i'));
  let subtotal = subtotals[0]?.amount ?? null;
  // of several totals (incl. VAT, amount due, balance due) the largest is the invoice's
  const totalHit = totals.reduce<{ amount: number; line: string } | null>((best, t) => (best && best.amount >= t.amount ? best : t), null);
  let total = totalHit?.amount ?? null;
  const taxHit = taxes[0] ?? null;
  let tax_amount = taxHit?.amount ?? null;
  let tax_rate = taxHit ? percentIn(taxHit.line) : null;
  tax_rate ??= lines.map((l) => (TAX.test(l) || SUBTOTAL.test(l) || TOTAL.test(l) ? percentIn(l) : null)).find((r) => r !== null) ?? null;

  // what one figure lacks, the other two give
  if (total === null && subtotal !== null && tax_amount !== null) total = round2(subtotal + tax_amount);
  if (subtotal === null && total !== null && tax_amount !== null) subtotal = round2(total - tax_amount);
  if (tax_amount === null && total !== null && subtotal !== null && total >= subtotal) tax_amount = round2(total - subtotal);
  if (tax_rate === null && tax_amount !== null && subtotal) tax_rate = round2((tax_amount / subtotal) * 100);

  const currency =
    (totalHit && currencyIn(totalHit.line, language === 'da')) ?? explicitCurrency ?? dominantCurrency(lines, language === 'da');

  const invoice: ParsedInvoice = {
    vendor: findVendor(lines),
    invoice_number,
    invoice_date,
    due_date,
    currency,
    subtotal,
    tax_amount,
    tax_rate,
    total,
    language,
    lines: findLines(lines),
  };
  const fields = Object.entries(invoice).filter(([k]) => k !== 'lines');
  const not_found = fields.filter(([, v]) => v === null).map(([k]) => k);
  if (invoice.lines.length === 0) not_found.push('lines');
  const missing = REQUIRED_FIELDS.filter((f) => invoice[f] === null);
  return { invoice, missing: [...missing], not_found };
}
