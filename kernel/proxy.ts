// One reverse proxy per ready child (or remote module), built once when the child reports
// its port and closed when the child goes. Each has its own keep-alive agent.
//
// The hop is written on node:http directly (no proxy library) because every fault of the
// data path lives in how the two legs are tied together (issue 14):
// - the client leaves → the upstream request is destroyed, so the child sees its request
//   closed at once and the pooled socket is freed (items 2: abandoned requests);
// - the module answers before reading the body → the answer goes out, the upstream leg is
//   dropped and the rest of the client's body is read and discarded, as node's own server
//   does (item 3: early answers);
// - no answer within the module's timeout_ms → `504 module_timeout` naming the limit
//   (item 4), never a socket timeout reported as "unreachable".
import { Agent, request as httpRequest, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { HubError } from '../shared/errors.js';
import { KERNEL_SECRET_HEADER } from '../shared/runtime/kernel-secret.js';
import { isAdminCookie, withoutAdminCookie } from './admin-session.js';
import { sendError } from './http-errors.js';

/** DESIGN.md: module.json timeout_ms, default 120000 ms. */
export const DEFAULT_TIMEOUT_MS = 120_000;

export interface HandleOptions {
  /** Longest wait for the module's response headers, in ms (module.json timeout_ms). */
  timeoutMs?: number;
}

export interface ProxyTarget {
  /** Where requests go: a child's loopback port, or a remote module's URL. */
  url: string;
  handle(req: IncomingMessage, res: ServerResponse, opts?: HandleOptions): void;
  close(): void;
}

/** Headers that describe one connection, never forwarded on the other leg (RFC 9110 §7.6.1). */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'upgrade'];

/**
 * What every request to a module gets on its way: the kernel secret in KERNEL_SECRET_HEADER
 * (a client's copy is overwritten, never forwarded) and no hub admin session cookie.
 * Mutates `req.headers`; costs about a microsecond (bench/kernel-secret-cost.ts).
 */
export function stampForModule(req: IncomingMessage, secret: string): void {
  req.headers[KERNEL_SECRET_HEADER] = secret;
  // Bearer credentials on the hub's origins are the hub's (the admin token, API tokens): the
  // gateway consumes them and a module never receives one. Modules that need a credential of
  // their own from a caller use another scheme or header (Basic, a signature header).
  const auth = req.headers.authorization;
  if (auth !== undefined && /^\s*bearer\b/i.test(auth)) delete req.headers.authorization;
  const cookie = req.headers.cookie;
  if (cookie !== undefined) {
    const kept = withoutAdminCookie(cookie);
    if (kept === undefined) delete req.headers.cookie;
    else req.headers.cookie = kept;
  }
}

function forwardedHeaders(req: IncomingMessage): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { ...req.headers };
  const named = String(req.headers.connection ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const h of [...HOP_BY_HOP, ...named]) delete headers[h];
  const add = (key: string, value: string) => {
    const prev = headers[key];
    headers[key] = prev === undefined ? value : `${String(prev)},${value}`;
  };
  add('x-forwarded-for', req.socket.remoteAddress ?? '');
  add('x-forwarded-port', String(req.socket.localPort ?? ''));
  add('x-forwarded-proto', 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http');
  if (req.headers.host !== undefined) add('x-forwarded-host', req.headers.host);
  return headers;
}

/**
 * A proxy to a child's loopback port (a number) or a remote module's URL. Every request it
 * forwards carries `secret` in KERNEL_SECRET_HEADER (whatever the client sent there is
 * replaced) and loses the hub's admin session cookie: a module never receives it.
 * Errors: 502 module_unreachable (connection failed), 504 module_timeout (no response
 * headers within opts.timeoutMs); the client leaving destroys the upstream request.
 */
export function createProxyTarget(name: string, to: number | string, secret: string): ProxyTarget {
  const url = typeof to === 'number' ? `http://127.0.0.1:${to}` : to.replace(/\/+$/, '');
  const target = new URL(url);
  const secure = target.protocol === 'https:';
  const agentOptions = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, keepAliveMsecs: 1000 };
  const agent = secure ? new HttpsAgent(agentOptions) : new Agent(agentOptions);
  const send = secure ? httpsRequest : httpRequest;
  const basePath = target.pathname === '/' ? '' : target.pathname;

  return {
    url,
    handle(req, res, opts = {}) {
      stampForModule(req, secret);
      const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      let upstream: ClientRequest;
      try {
        upstream = send({
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port || (secure ? 443 : 80),
          method: req.method,
          path: basePath + (req.url ?? '/'),
          headers: forwardedHeaders(req),
          agent,
        });
      } catch (e) {
        return sendError(res, new HubError('bad_request', `cannot forward this request: ${(e as Error).message}`));
      }
      let answered = false;
      let upstreamRes: IncomingMessage | undefined;
      const timer = setTimeout(() => {
        if (answered) return;
        sendError(res, new HubError('module_timeout', `module ${name} did not answer within its timeout_ms of ${timeoutMs} ms (module.json timeout_ms)`, { timeout_ms: timeoutMs }));
        upstream.destroy();
      }, timeoutMs);
      timer.unref();

      // The client left (or its answer is complete): an upstream request still open is
      // destroyed, so the module sees its request closed and the agent's socket is freed.
      res.once('close', () => {
        clearTimeout(timer);
        if (!upstream.destroyed && !(upstreamRes?.complete ?? false)) upstream.destroy();
      });

      upstream.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (res.headersSent || res.destroyed) {
          if (!res.writableFinished) res.destroy();
          return;
        }
        sendError(res, new HubError('module_unreachable', `module ${name} did not answer: ${err.code ?? err.message}`));
      });

      upstream.on('response', (proxyRes) => {
        answered = true;
        upstreamRes = proxyRes;
        clearTimeout(timer);
        if (res.destroyed) return void proxyRes.destroy();
        const headers: Record<string, string | string[] | undefined> = { ...proxyRes.headers };
        for (const h of HOP_BY_HOP) delete headers[h];
        // cookies ignore ports: a module must not overwrite (or fixate) the hub's admin session
        const setCookie = headers['set-cookie'];
        if (Array.isArray(setCookie)) headers['set-cookie'] = setCookie.filter((c) => !isAdminCookie(c));
        res.writeHead(proxyRes.statusCode ?? 502, proxyRes.statusMessage, headers);
        proxyRes.pipe(res);
        // the child died half-way through its answer: cut the client's connection too,
        // or it would wait forever for the rest
        proxyRes.once('close', () => {
          if (!proxyRes.complete) res.destroy();
        });
        proxyRes.once('end', () => {
          if (req.complete) return;
          // An answer before the body was read (item 3): the upstream leg carries half a body
          // and cannot be reused; the rest of the client's body is read and dropped, as
          // node's own server does, so the client is never left blocked mid-upload.
          req.unpipe(upstream);
          upstream.destroy();
          req.resume();
        });
      });

      req.pipe(upstream);
    },
    close() {
      agent.destroy();
    },
  };
}
