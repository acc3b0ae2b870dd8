// x-request-id on the answers the gateway gives for a module request. The id is decided once
// per request (the client's, if it is a sane one, else a fresh UUID) and put on the request
// for the child; the answer carries it too. It is not set with res.setHeader up front: a
// header set that way sends every header of the module's answer through node's slow
// setHeader path (issue 17). The proxied answer writes it with its other headers
// (kernel/proxy.ts) and the kernel's own answers (kernel/http-errors.ts) add it from here.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';
const ID = Symbol('hub.requestId');

/**
 * The request's id: a client-sent x-request-id of 1–200 characters is kept, anything else
 * is replaced by a random UUID; either way it is in `req.headers` (for the module) and
 * remembered on `res` for the answer. Returns the id.
 */
export function assignRequestId(req: IncomingMessage, res: ServerResponse): string {
  let id = req.headers[REQUEST_ID_HEADER];
  if (typeof id !== 'string' || id.length === 0 || id.length > 200) {
    id = randomUUID();
    req.headers[REQUEST_ID_HEADER] = id;
  }
  (res as ServerResponse & { [ID]?: string })[ID] = id;
  return id;
}

/** The id assignRequestId gave this answer, if any. */
export function requestIdOf(res: ServerResponse): string | undefined {
  return (res as ServerResponse & { [ID]?: string })[ID];
}
