// One reverse proxy per ready child (or remote module), built once when the child reports
// its port and closed when the child goes. Each has its own keep-alive agent: http-proxy-middleware's
// default opens and closes a connection on both legs for every request, which costs
// more than everything else the gateway does.
import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { HubError } from '../shared/errors.js';
import { sendError } from './http-errors.js';

export interface ProxyTarget {
  /** Where requests go: a child's loopback port, or a remote module's URL. */
  url: string;
  handle(req: IncomingMessage, res: ServerResponse): void;
  close(): void;
}

export function createProxyTarget(name: string, to: number | string): ProxyTarget {
  const url = typeof to === 'number' ? `http://127.0.0.1:${to}` : to.replace(/\/+$/, '');
  const agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, keepAliveMsecs: 1000, timeout: 60_000 });
  const middleware = createProxyMiddleware<IncomingMessage, ServerResponse>({
    target: url,
    agent,
    xfwd: true,
    proxyTimeout: 120_000,
    on: {
      error(err, _req, res) {
        if ('writeHead' in res && typeof res.writeHead === 'function') {
          const response = res as ServerResponse;
          if (!response.headersSent) {
            sendError(response, new HubError('module_unreachable', `module ${name} did not answer: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
          } else {
            response.destroy();
          }
        } else {
          (res as Socket).destroy();
        }
      },
    },
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
      void middleware(req, res, () => sendError(res, new HubError('not_found', 'not found')));
    },
    close() {
      agent.destroy();
    },
  };
}
