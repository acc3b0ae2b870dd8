// Text extraction in the worker pool: pdf.js (through unpdf's Node build, no browser or
// canvas) parses the upload; a malformed or huge PDF costs a worker, never the event loop.
import { createHash } from 'node:crypto';
import { getDocumentProxy } from 'unpdf';
import type { ExtractPayload, ExtractResult } from '../types.js';

// the fields of pdf.js's TextItem this file reads
interface TextItem {
  str: string;
  transform: number[];
  width: number;
}

/**
 * pdf.js hands out positioned fragments, not lines. Fragments on one baseline form a line;
 * a wide horizontal gap becomes three spaces so table columns stay apart ("Qty   Price").
 */
function pageLines(items: TextItem[]): string[] {
  const rows: { y: number; size: number; items: TextItem[] }[] = [];
  for (const item of items) {
    if (!item.str) continue;
    const [a = 0, b = 0, , , , y = 0] = item.transform;
    const size = Math.hypot(a, b) || 10;
    const row = rows.find((r) => Math.abs(r.y - y) <= Math.min(r.size, size) * 0.4);
    if (row) row.items.push(item);
    else rows.push({ y, size, items: [item] });
  }
  rows.sort((p, q) => q.y - p.y);
  return rows.map((row) => {
    row.items.sort((p, q) => (p.transform[4] ?? 0) - (q.transform[4] ?? 0));
    let line = '';
    let end: number | null = null;
    for (const item of row.items) {
      const x = item.transform[4] ?? 0;
      if (end !== null) {
        const gap = x - end;
        if (gap > row.size * 0.9) line += '   ';
        else if (gap > row.size * 0.15 && !line.endsWith(' ') && !item.str.startsWith(' ')) line += ' ';
      }
      line += item.str;
      end = x + item.width;
    }
    return line.replace(/\s+$/, '');
  });
}

async function extractPdf(data: Uint8Array, maxPages: number): Promise<ExtractResult> {
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    pdf = await getDocumentProxy(data, { verbosity: 0, isEvalSupported: false, stopAtErrors: false });
  } catch (e) {
    const err = e as Error;
    if (err?.name === 'PasswordException') {
      return { ok: false, code: 'encrypted_pdf', message: 'the PDF is encrypted with a password; upload an unprotected copy' };
    }
    return { ok: false, code: 'invalid_pdf', message: `the file starts like a PDF but cannot be read: ${err?.message ?? String(e)}` };
  }
  try {
    if (pdf.numPages > maxPages) {
      return { ok: false, code: 'too_many_pages', message: `the PDF has ${pdf.numPages} pages; invoices of at most ${maxPages} pages are accepted` };
    }
    const pages: string[] = [];
    for (let n = 1; n <= pdf.numPages; n++) {
      const page = await pdf.getPage(n);
      const content = await page.getTextContent();
      pages.push(pageLines(content.items.flatMap((i) => ('str' in i ? [i as TextItem] : []))).join('\n'));
      page.cleanup();
    }
    return { ok: true, text: pages.join('\n\n'), pages: pdf.numPages, sha256: '' };
  } catch (e) {
    return { ok: false, code: 'invalid_pdf', message: `the PDF is damaged: ${(e as Error)?.message ?? String(e)}` };
  } finally {
    await pdf.destroy().catch(() => undefined);
  }
}

function extractText(data: Uint8Array): ExtractResult {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return { ok: false, code: 'not_text', message: 'the text upload is not valid UTF-8' };
  }
  if (text.includes('\u0000')) return { ok: false, code: 'not_text', message: 'the upload contains binary data, not text' };
  return { ok: true, text: text.replace(/^\uFEFF/, ''), pages: null, sha256: '' };
}

export default async function extract({ kind, data, maxPages }: ExtractPayload): Promise<ExtractResult> {
  // hash first: pdf.js takes over (detaches) the buffer it is given
  const sha256 = createHash('sha256').update(data).digest('hex');
  const result = kind === 'pdf' ? await extractPdf(data, maxPages) : extractText(data);
  if (!result.ok) return result;
  if (result.text.trim() === '') {
    return {
      ok: false,
      code: 'no_text',
      message: kind === 'pdf' ? 'the PDF has no text layer (an empty or scanned document; OCR is not supported)' : 'the upload is empty',
    };
  }
  return { ...result, sha256 };
}
