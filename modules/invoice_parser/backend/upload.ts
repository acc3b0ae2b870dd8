// Reads an upload into memory, never more than the size limit of it: a raw PDF or text body
// (the API) or one file of a multipart form (the upload page). An oversized upload is refused
// from its Content-Length before a byte is read, or as soon as the count passes the limit;
// the rest is discarded as it arrives, so the client still receives the 413.
import busboy from 'busboy';
import type { ModuleContext, Request } from '../../../shared/module-api.js';
import type { SourceKind } from './types.js';

/** ctx.error: the hub's coded module error, thrown by every refusal here (one error shape). */
export type Refuse = ModuleContext['error'];

export interface Upload {
  kind: SourceKind;
  data: Buffer;
  fileName: string | null;
}

const PDF_TYPES = new Set(['application/pdf', 'application/x-pdf', 'application/octet-stream']);
// a multipart body carries boundaries and part headers besides the file
const MULTIPART_OVERHEAD = 64 * 1024;
// how long an oversized upload may keep sending into the void before its connection is cut
const DISCARD_MS = 15_000;

const tooLarge = (refuse: Refuse, maxBytes: number) =>
  refuse(413, 'payload_too_large', `the upload is larger than ${Math.round(maxBytes / 1024 / 1024)} MB`, { max_bytes: maxBytes });

/** Lets the rest of a refused body flow past unread, with a deadline. */
export function discard(req: Request): void {
  const timer = setTimeout(() => req.socket.destroy(), DISCARD_MS);
  timer.unref();
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

export function looksLikePdf(data: Buffer): boolean {
  // the PDF header may follow a little junk, but must be within the first 1024 bytes
  return data.subarray(0, 1024).includes('%PDF-');
}

function readRaw(req: Request, maxBytes: number, refuse: Refuse): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        chunks.length = 0;
        discard(req);
        reject(tooLarge(refuse, maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onAbort = () => {
      cleanup();
      reject(refuse(400, 'upload_aborted', 'the upload was interrupted'));
    };
    // a client that goes away mid-upload must not leave this promise (and its slot) hanging
    const onClose = () => {
      if (!req.complete) onAbort();
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('close', onClose);
  });
}

function readMultipart(req: Request, maxBytes: number, refuse: Refuse): Promise<{ data: Buffer; fileName: string | null; mimeType: string }> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let file: { data: Buffer; fileName: string | null; mimeType: string } | null = null;
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { files: 1, fileSize: maxBytes, fields: 20, fieldSize: 10_000, parts: 30 } });
    } catch (e) {
      reject(refuse(400, 'bad_request', `cannot read the form: ${(e as Error).message}`));
      return;
    }
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      req.unpipe(bb);
      bb.removeAllListeners();
      bb.on('error', () => undefined);
      discard(req);
      reject(err);
    };
    bb.on('file', (_field, stream, info) => {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (c: Buffer) => {
        size += c.length;
        chunks.push(c);
      });
      stream.on('limit', () => fail(tooLarge(refuse, maxBytes)));
      stream.on('end', () => {
        if (!settled && !file) file = { data: Buffer.concat(chunks, size), fileName: info.filename ?? null, mimeType: info.mimeType };
      });
    });
    bb.on('error', (e: Error) => fail(refuse(400, 'bad_request', `cannot read the form: ${e.message}`)));
    bb.on('close', () => {
      if (settled) return;
      settled = true;
      if (!file) reject(refuse(400, 'no_file', 'the form has no file: send the invoice in a file field (e.g. "file")'));
      else resolve(file);
    });
    const interrupted = () => fail(refuse(400, 'upload_aborted', 'the upload was interrupted'));
    req.on('error', interrupted);
    req.on('close', () => {
      if (!req.complete) interrupted();
    });
    req.pipe(bb);
  });
}

function baseType(req: Request): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** What the bytes are: PDF by its magic bytes, text when declared so; anything else is refused. */
function classify(data: Buffer, declared: string, fileName: string | null, refuse: Refuse): SourceKind {
  if (looksLikePdf(data)) return 'pdf';
  const name = (fileName ?? '').toLowerCase();
  if (declared.startsWith('text/plain') || name.endsWith('.txt')) return 'text';
  if (PDF_TYPES.has(declared) || name.endsWith('.pdf')) {
    throw refuse(415, 'not_a_pdf', 'the file is not a PDF: it does not start with the %PDF- header', { file_name: fileName });
  }
  throw refuse(415, 'unsupported_media_type', `cannot read ${declared || 'this file'}: upload a PDF or a plain-text invoice`, { file_name: fileName });
}

export async function readUpload(req: Request, maxBytes: number, refuse: Refuse): Promise<Upload> {
  const type = baseType(req);
  const length = Number(req.headers['content-length'] ?? NaN);
  const multipart = type === 'multipart/form-data';
  if (!multipart && !PDF_TYPES.has(type) && type !== 'text/plain') {
    discard(req);
    throw refuse(415, 'unsupported_media_type', `send the invoice as application/pdf, text/plain or a multipart form (got ${type || 'no Content-Type'})`);
  }
  if (Number.isFinite(length) && length > maxBytes + (multipart ? MULTIPART_OVERHEAD : 0)) {
    discard(req);
    throw tooLarge(refuse, maxBytes);
  }
  if (multipart) {
    const { data, fileName, mimeType } = await readMultipart(req, maxBytes, refuse);
    if (data.length === 0) throw refuse(400, 'empty_upload', 'the uploaded file is empty', { file_name: fileName });
    return { kind: classify(data, mimeType.toLowerCase(), fileName, refuse), data, fileName };
  }
  const data = await readRaw(req, maxBytes, refuse);
  if (data.length === 0) throw refuse(400, 'empty_upload', 'the request body is empty: send the invoice file as the body');
  const name = typeof req.query.filename === 'string' ? req.query.filename.slice(0, 200) : null;
  return { kind: classify(data, type, name, refuse), data, fileName: name };
}
