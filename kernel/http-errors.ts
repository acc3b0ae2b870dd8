// The one place errors become HTTP answers: status from the catalogue, the same JSON
// shape everywhere, never an HTML stack trace. Works on raw node responses (the gateway
// answers before express) and on express responses alike.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { toHubError, type HubError } from '../shared/errors.js';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id.js';

/** The answer's own headers plus its x-request-id when the gateway gave it one (kernel/request-id.ts). */
export function withRequestId(res: ServerResponse, headers: Record<string, string | number>): Record<string, string | number> {
  const id = requestIdOf(res);
  if (id !== undefined) headers[REQUEST_ID_HEADER] = id;
  return headers;
}

export function sendError(res: ServerResponse, error: HubError, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(error.toJSON());
  res.writeHead(
    error.status,
    withRequestId(res, {
      ...headers,
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    }),
  );
  res.end(body);
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

/** True when the client asked for a page (a browser's Accept starts with or lists text/html). */
export function wantsHtml(req: IncomingMessage): boolean {
  return /(^|,)\s*text\/html\b/i.test(String(req.headers.accept ?? ''));
}

/**
 * Like sendError, but a browser (Accept: text/html) gets a small self-contained page
 * saying what is wrong and, with a Retry-After, when to retry; everything else gets the
 * JSON shape. The message is escaped: it may quote a module's own error text.
 */
export function sendErrorFor(req: IncomingMessage, res: ServerResponse, error: HubError, headers: Record<string, string> = {}): void {
  if (!wantsHtml(req)) return sendError(res, error, headers);
  if (res.headersSent) return void res.destroy();
  const retry = headers['retry-after'];
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
${retry ? `<meta http-equiv="refresh" content="${Number(retry) || 5}">` : ''}<title>${error.status} ${escapeHtml(error.code)}</title>
<style>body{font:16px system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#eee;padding:0 .2em}</style></head>
<body><h1>${error.status === 503 ? 'Temporarily unavailable' : 'Error'}</h1>
<p>${escapeHtml(error.message)}</p>
${retry ? `<p>This page tries again by itself in ${Number(retry) || 5} s.</p>` : '<p>Retrying will not help until an operator fixes this.</p>'}
<p><small><code>${escapeHtml(error.code)}</code></small></p></body></html>
`;
  res.writeHead(
    error.status,
    withRequestId(res, {
      ...headers,
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
      'cache-control': 'no-store',
    }),
  );
  res.end(body);
}

/** express error middleware: anything thrown in a kernel route ends here. */
export function errorMiddleware(err: unknown, _req: Request, res: Response, _next: NextFunction): void {
  const status = (err as { status?: unknown })?.status;
  const e = toHubError(err, typeof status === 'number' && status < 500 ? 'bad_request' : 'internal_error');
  // a throttle says when to come back (kernel/auth-rate-limit.ts)
  const retry = e.code === 'rate_limited' ? e.details?.retry_after_s : undefined;
  sendError(res, e, typeof retry === 'number' ? { 'retry-after': String(retry) } : {});
}
