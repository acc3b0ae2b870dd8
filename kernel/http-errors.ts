// The one place errors become HTTP answers: status from the catalogue, the same JSON
// shape everywhere, never an HTML stack trace. Works on raw node responses (the gateway
// answers before express) and on express responses alike.
import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { toHubError, type HubError } from '../shared/errors.js';

export function sendError(res: ServerResponse, error: HubError, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(error.toJSON());
  res.writeHead(error.status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** express error middleware: anything thrown in a kernel route ends here. */
export function errorMiddleware(err: unknown, _req: Request, res: Response, _next: NextFunction): void {
  const status = (err as { status?: unknown })?.status;
  const e = toHubError(err, typeof status === 'number' && status < 500 ? 'bad_request' : 'internal_error');
  sendError(res, e);
}
