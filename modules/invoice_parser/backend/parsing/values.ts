// Reading single values out of invoice text: amounts in Danish (1.234,56) and English
// (1,234.56) notation, dates in the forms Danish and English invoices use, currencies.

/** A money-like token: digits with optional . or , groups, optional sign. */
const NUMBER_TOKEN = /(?<![\w.,-])[-−]?\d[\d.,]*(?<=\d)(?![\w%])/g;

/**
 * "1.234,56" → 1234.56, "1,234.56" → 1234.56, "1234" → 1234, "12,5" → 12.5.
 * With both separators the last one is the decimal mark; with one kind only, a single
 * separator followed by other than three digits is the decimal mark ("2,5"), otherwise the
 * separators group thousands ("1.234" is 1234 in a Danish invoice).
 */
export function parseNumber(token: string): number | null {
  let t = token.trim().replace(/[−–]/g, '-');
  const negative = t.startsWith('-');
  t = t.replace(/^-/, '');
  if (!/^\d[\d.,]*$/.test(t) || /[.,]{2}/.test(t) || /[.,]$/.test(t)) return null;
  const lastDot = t.lastIndexOf('.');
  const lastComma = t.lastIndexOf(',');
  let decimal: string | null = null;
  if (lastDot >= 0 && lastComma >= 0) decimal = lastDot > lastComma ? '.' : ',';
  else if (lastDot >= 0 || lastComma >= 0) {
    const sep = lastDot >= 0 ? '.' : ',';
    const count = t.split(sep).length - 1;
    const after = t.length - t.lastIndexOf(sep) - 1;
    if (count === 1 && after !== 3) decimal = sep;
  }
  const cut = decimal ? t.lastIndexOf(decimal) : t.length;
  const whole = t.slice(0, cut);
  const fraction = decimal ? t.slice(cut + 1) : '';
  if (decimal && whole.includes(decimal)) return null;
  // thousands groups must be exactly three digits: "12.34.5" is not an amount
  const groups = whole.split(/[.,]/);
  if (groups.length > 1 && groups.slice(1).some((g) => g.length !== 3)) return null;
  const n = Number(`${groups.join('')}.${fraction || '0'}`);
  return Number.isFinite(n) ? (negative ? -n : n) : null;
}

/** Removes dates and percentages so their digits are not taken for amounts. */
function withoutNonAmounts(line: string): string {
  return line
    .replace(DATE_ANY, ' ')
    .replace(/\d+(?:[.,]\d+)?\s*%/g, ' ')
    .replace(/[€$£]/g, ' ')
    .replace(/\b(?:DKK|EUR|USD|GBP|SEK|NOK|CHF|kr)\.?(?=\s|\d|$)/gi, ' ');
}

/** Every amount on a line, left to right. */
export function amountsIn(line: string): number[] {
  const out: number[] = [];
  for (const m of withoutNonAmounts(line).matchAll(NUMBER_TOKEN)) {
    const n = parseNumber(m[0]);
    if (n !== null) out.push(n);
  }
  return out;
}

/** The rate in "Moms 25%", "VAT (12,5 %)". */
export function percentIn(line: string): number | null {
  const m = /(\d{1,2}(?:[.,]\d{1,2})?)\s*%/.exec(line);
  return m ? parseNumber(m[1]!) : null;
}

const MONTHS: Record<string, number> = {
  jan: 1, feb: 2, mar: 3, apr: 4, may: 5, maj: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, okt: 10, nov: 11, dec: 12,
};
const MONTH_NAME = '(jan(?:uary|uar)?|feb(?:ruary|ruar)?|mar(?:ch|ts)?|apr(?:il)?|ma[yj]|jun[ei]?|jul[yi]?|aug(?:ust)?|sep(?:t(?:ember)?)?|o[ck]t(?:ober)?|nov(?:ember)?|dec(?:ember)?)';
const DATE_ISO = /\b(\d{4})-(\d{1,2})-(\d{1,2})\b/;
const DATE_NUMERIC = /\b(\d{1,2})[./-](\d{1,2})[./-](\d{4}|\d{2})\b/;
const DATE_DAY_MONTH = new RegExp(`\\b(\\d{1,2})\\.?\\s+${MONTH_NAME}\\.?,?\\s+(\\d{4})\\b`, 'i');
const DATE_MONTH_DAY = new RegExp(`\\b${MONTH_NAME}\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?,?\\s+(\\d{4})\\b`, 'i');
const DATE_ANY = new RegExp(
  [DATE_ISO, DATE_NUMERIC, DATE_DAY_MONTH, DATE_MONTH_DAY].map((r) => r.source).join('|'),
  'gi',
);

function iso(y: number, m: number, d: number): string | null {
  if (y < 100) y += 2000;
  if (m < 1 || m > 12 || d < 1 || y < 1900 || y > 2200) return null;
  const date = new Date(Date.UTC(y, m - 1, d));
  if (date.getUTCMonth() !== m - 1) return null; // 31 February
  return date.toISOString().slice(0, 10);
}

/**
 * The first date in the text, as yyyy-mm-dd. Numeric dates are day first (Danish and
 * European usage) unless that is impossible or `monthFirst` (US invoices) says otherwise.
 */
export function parseDate(text: string, monthFirst = false): string | null {
  const candidates: { at: number; value: string | null }[] = [];
  const push = (m: RegExpExecArray | null, value: (m: RegExpExecArray) => string | null) => {
    if (m) candidates.push({ at: m.index, value: value(m) });
  };
  push(DATE_ISO.exec(text), (m) => iso(+m[1]!, +m[2]!, +m[3]!));
  push(DATE_NUMERIC.exec(text), (m) => {
    const a = +m[1]!;
    const b = +m[2]!;
    const y = +m[3]!;
    const dayFirst = a > 12 ? true : b > 12 ? false : !monthFirst;
    return dayFirst ? iso(y, b, a) : iso(y, a, b);
  });
  push(DATE_DAY_MONTH.exec(text), (m) => iso(+m[3]!, MONTHS[m[2]!.slice(0, 3).toLowerCase()] ?? 0, +m[1]!));
  push(DATE_MONTH_DAY.exec(text), (m) => iso(+m[3]!, MONTHS[m[1]!.slice(0, 3).toLowerCase()] ?? 0, +m[2]!));
  candidates.sort((x, y) => x.at - y.at);
  return candidates.find((c) => c.value !== null)?.value ?? null;
}

const CODES = ['DKK', 'EUR', 'USD', 'GBP', 'SEK', 'NOK', 'CHF'];
const SYMBOLS: Record<string, string> = { '€': 'EUR', $: 'USD', '£': 'GBP' };

/** The currency named on a line, by code or symbol; "kr." only counts as DKK when told so. */
export function currencyIn(line: string, krIsDkk: boolean): string | null {
  const code = new RegExp(`\\b(${CODES.join('|')})\\b`, 'i').exec(line);
  if (code) return code[1]!.toUpperCase();
  const symbol = /[€$£]/.exec(line);
  if (symbol) return SYMBOLS[symbol[0]]!;
  if (krIsDkk && /(?:^|[\s\d])kr\.?(?=\s|\d|$)/i.test(line)) return 'DKK';
  return null;
}

/** The currency most used across the text. */
export function dominantCurrency(lines: string[], krIsDkk: boolean): string | null {
  const counts = new Map<string, number>();
  for (const line of lines) {
    const c = currencyIn(line, krIsDkk);
    if (c) counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
}

export const round2 = (n: number) => Math.round(n * 100) / 100;
