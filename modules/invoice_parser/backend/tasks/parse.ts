// Field parsing runs in the worker pool: the regular expressions over a long invoice's
// text are cheap, but never free, and the event loop answers health checks meanwhile.
import type { ParseResult } from '../types.js';
import { parseInvoiceText } from '../parsing/fields.js';

export default function parse({ text }: { text: string }): ParseResult {
  return parseInvoiceText(text);
}
