// One reverse proxy per ready child (or remote module), built once when the child reports
// its port and closed when the child goes. Each has its own keep-alive agent: http-proxy-middleware's
// default opens and closes a connection on both legs for every request, which costs
// more than everything else the gateway does.
import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createProxyMiddleware, type Plugin } from 'http-proxy-middleware';
import { HubError } from '../shared/errors.js';
import { KERNEL_SECRET_HEADER } from '../shared/runtime/kernel-secret.js';
import { isAdminCookie, withoutAdminCookie } from './admin-session.js';
import { sendError } from './http-errors.js';

export interface ProxyTarget {
  /** Where requests go: a child's loopback port, or a remote module's URL. */
  url: string;
  handle(req: IncomingMessage, res: ServerResponse): void;
  close(): void;
}

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

/**
 * A proxy to a child's loopback port (a number) or a remote module's URL. Every request it
 * forwards carries `secret` in KERNEL_SECRET_HEADER (whatever the client sent there is
 * replaced) and loses the hub's admin session cookie: a module never receives it.
 */
export function createProxyTarget(name: string, to: number | string, secret: string): ProxyTarget {
  const url = typeof to === 'number' ? `http://127.0.0.1:${to}` : to.replace(/\/+$/, '');
  const agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, keepAliveMsecs: 1000, timeout: 60_000 });
  const onError = (err: Error, res: ServerResponse | Socket) => {
    if ('writeHead' in res && typeof res.writeHead === 'function') {
      if (!res.headersSent) {
        sendError(res, new HubError('module_unreachable', `module ${name} did not answer: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      } else {
        res.destroy();
      }
    } else {
      (res as Socket).destroy();
    }
  };
  // Our own plugin instead of http-proxy-middleware's defaults: those add debug listeners to
  // every request and log to the console; we keep only what matters, the error answer and
  // dropping the child's response when the client has gone, and the client's when the child has.
  const plugin: Plugin<IncomingMessage, ServerResponse> = (proxyServer) => {
    proxyServer.on('error', (err, _req, res) => onError(err, res as ServerResponse | Socket));
    proxyServer.on('proxyRes', (proxyRes, _req, res) => {
      // We answer the client ourselves (selfHandleResponse): http-proxy's response passes
      // copy headers one setHeader call at a time and cost more than the rest of the hop.
      // Hop-by-hop headers describe the child's connection to us, not ours to the client.
      const headers = { ...proxyRes.headers };
      delete headers.connection;
      delete headers['keep-alive'];
      // cookies ignore ports: a module must not overwrite (or fixate) the hub's admin session
      const setCookie = headers['set-cookie'];
      if (setCookie !== undefined) headers['set-cookie'] = setCookie.filter((c) => !isAdminCookie(c));
      res.writeHead(proxyRes.statusCode ?? 502, proxyRes.statusMessage, headers);
      proxyRes.pipe(res);
      res.once('close', () => {
        if (!res.writableEnded) proxyRes.destroy();
      });
      // the child died half-way through its answer: pipe() would leave the client waiting
      // forever for the rest, so cut the client's connection too
      proxyRes.once('close', () => {
        if (!proxyRes.complete) res.destroy();
      });
    });
  };
  const middleware = createProxyMiddleware<IncomingMessage, ServerResponse>({
    target: url,
    agent,
    xfwd: true,
    proxyTimeout: 120_000,
    selfHandleResponse: true,
    ejectPlugins: true,
    plugins: [plugin],
  });
  return {
    url,
    handle(req, res) {
      // Hop-by-hop headers belong to the client's connection, not ours: http-proxy would copy
      // a client's "Connection: close" upstream and close the pooled socket after each request.
      if (req.headers.upgrade === undefined) {
        delete req.headers.connection;
        delete req.headers['keep-alive'];
        delete req.headers['proxy-connection'];
      }
      stampForModule(req, secret);
      void middleware(req, res, () => sendError(res, new HubError('not_found', 'not found')));
    },
    close() {
      agent.destroy();
    },
  };
}
