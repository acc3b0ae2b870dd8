// The request body for module handlers (issue 14, item 1). The exact bytes reach the
// module: a JSON or form body is read once (up to the module's body_limit), kept as
// `req.rawBody` (a Buffer), parsed into `req.body`, and then replayed into the request
// stream, so a handler that reads the stream itself (`req.on('data')`, `req.pipe`,
// `for await`) gets the same bytes. Webhook signatures (HMAC over the exact bytes) and
// numbers JSON.parse cannot hold (`12345678901234567890`) are both served from rawBody:
// `req.body` is JSON.parse's result, as with express.json().
// Other content types (multipart uploads, octet streams), and JSON or form bodies with a
// Content-Encoding or a charset other than UTF-8, are not read here at all: the handler
// streams them (or uses express.json(), which inflates), and body_limit does not apply to them.
import type { IncomingMessage } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { Readable } from 'node:stream';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { HubError } from '../errors.js';
import { AsyncResource } from 'node:async_hooks';

declare module 'express-serve-static-core' {
  interface Request {
    /** The exact request bytes of a JSON or form body (set by the hub runtime). */
    rawBody?: Buffer;
  }
}

type Kind = 'json' | 'form';

/**
 * Which body this middleware reads, or null to leave the request untouched for the handler.
 * Only bodies it can parse byte for byte: no Content-Encoding (a gzip or deflate body was
 * answered 400 with the compressed bytes quoted, and the handler, which could have inflated
 * it, never ran) and UTF-8 text (a charset=utf-16 body the same).
 */
function kindOf(req: IncomingMessage): Kind | null {
  const encoding = String(req.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (encoding !== '' && encoding !== 'identity') return null;
  const header = String(req.headers['content-type'] ?? '');
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(header)?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8' && charset !== 'us-ascii') return null;
  const type = header.split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type)) return 'json';
  if (type === 'application/x-www-form-urlencoded') return 'form';
  return null;
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

const settled = new WeakSet<IncomingMessage>();

/**
 * Puts `bytes` back into `req` as its unread stream: the stream state is made anew on the
 * same object (express and the module keep their reference), holding exactly these bytes.
 */
function replay(req: IncomingMessage, bytes: Buffer, then: () => void): void {
  // node destroys a fully read request on the tick after 'end' (autoDestroy, a nextTick); a
  // replay before that would be destroyed with it, aborting the connection, so it waits until
  // the next turn of the loop, when that destroy has run (or was never due)
  if (!req.destroyed && !settled.has(req)) {
    settled.add(req);
    return void setImmediate(() => replay(req, bytes, then));
  }
  Readable.call(req as unknown as Readable, { highWaterMark: Math.max(16 * 1024, bytes.length) });
  if (bytes.length > 0) req.push(bytes);
  req.push(null);
  then();
}

function tooLarge(name: string, limit: number, what: string): HubError {
  return new HubError('payload_too_large', `request body ${what} is over module ${name}'s body_limit of ${limit} bytes (module.json body_limit)`, { body_limit: limit });
}

/**
 * Middleware: JSON and form bodies read up to `limitBytes` (413 payload_too_large beyond,
 * without reading further), `req.rawBody` set, `req.body` parsed (400 bad_request for bad
 * JSON), the stream replayed. Other requests pass untouched.
 */
export function requestBody(name: string, limitBytes: number): RequestHandler {
  return (req: Request, _res: Response, proceed: NextFunction) => {
    // 'data'/'end' run in the socket's async context, not the request's: without this the rest
    // of the request would lose what earlier middleware put in AsyncLocalStorage (the signed-in
    // user that ctx.db turns into hub.user_id for row-level security).
    const next = AsyncResource.bind(proceed);
    const kind = kindOf(req);
    if (kind === null || !hasBody(req) || req.rawBody !== undefined) return next();
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limitBytes) return next(tooLarge(name, limitBytes, `of ${declared} bytes`));
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', finish);
      if (err) return next(err);
      const raw = Buffer.concat(chunks, size);
      req.rawBody = raw;
      try {
        const text = raw.toString('utf8');
        if (kind === 'json') req.body = text.trim() === '' ? {} : JSON.parse(text);
        else req.body = { ...parseQuery(text) };
      } catch (e) {
        const bad = new HubError('bad_request', `request body is not valid JSON: ${(e as Error).message}`);
        return replay(req, raw, () => next(bad));
      }
      replay(req, raw, () => next());
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        // stop buffering; the rest is read and dropped (the kernel cuts this leg once the 413 is out)
        chunks.length = 0;
        req.off('data', onData);
        req.resume();
        return finish(tooLarge(name, limitBytes, 'of more bytes'));
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish();
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', finish);
  };
}
