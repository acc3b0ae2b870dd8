// One reverse proxy per ready child (or remote module), built once when the child reports
// its port and closed when the child goes. The hop is http-proxy-middleware (the design card
// fixes it as the gateway's proxy library) with our own plugin and `selfHandleResponse`; each
// target has its own keep-alive agent: the library's default opens and closes a connection
// on both legs for every request, which costs more than everything else the gateway does.
//
// Every fault of the data path lives in how the two legs are tied together (issue 14), and
// http-proxy leaves all three to us, so the plugin and `handle` below add them:
// - the client leaves → the upstream request is destroyed, so the child sees its request
//   closed at once and the pooled socket is freed (item 2: abandoned requests). http-proxy
//   only cancels on the client request's 'aborted', which a GET whose request is already
//   complete never emits: without this, 256 abandoned requests filled the agent;
// - the module answers before reading the body → the answer goes out, the upstream leg is
//   dropped and the rest of the client's body is read and discarded, as node's own server
//   does (item 3: early answers);
// - no answer within the module's timeout_ms → `504 module_timeout` naming the limit
//   (item 4), never a socket timeout reported as "unreachable". http-proxy's `proxyTimeout`
//   is an idle-socket timeout fixed per proxy (it would also cut a slow streamed answer), so
//   the deadline on the response headers is our own timer, per request.
//
// To do that the upstream request must be in hand from the moment it exists, not only from
// http-proxy's 'proxyReq' event, which comes when the agent hands it a socket (a request
// queued behind a full agent has none yet) and never for a request carrying `Expect`. The
// target's agent therefore takes it in `addRequest`, which node calls from the
// ClientRequest constructor, synchronously after http-proxy's 'start' event for the same
// request (http-proxy's `stream` pass: emit 'start', then `http.request`). The same hook puts
// back the exact path: http-proxy joins target and path with `urlJoin`, which collapses
// repeated slashes, and a module must receive its path byte for byte.
import { Agent, type AgentOptions, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Socket } from 'node:net';
import { parse as parseUrl } from 'node:url';
import { createProxyMiddleware, type Plugin } from 'http-proxy-middleware';
import { HubError } from '../shared/errors.js';
import { KERNEL_SECRET_HEADER } from '../shared/runtime/kernel-secret.js';
import { withoutAdminCookie } from './admin-session.js';
import { isHubCookie } from './hub-cookies.js';
import { sendError } from './http-errors.js';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id.js';

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
 * Headers a client's `Connection` may name but never removes. Content-Length and
 * Transfer-Encoding frame the body: dropped, the body would reach the child's pooled
 * keep-alive socket unframed and be parsed there as further requests (request smuggling,
 * tests/redteam-gateway-framing.test.ts). Host and the headers the kernel sets for the module
 * (x-request-id, and by prefix x-hub-* such as the signed user, x-forwarded-*) are not the
 * client's to delete either.
 */
const KEPT_DESPITE_CONNECTION = new Set(['content-length', 'transfer-encoding', 'host', REQUEST_ID_HEADER]);

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
 * The client's headers made fit for the upstream leg, in place (http-proxy copies
 * `req.headers`): hop-by-hop headers and any the client's `Connection` names are dropped, so
 * a client's `Connection: close` never closes the pooled socket to the child, and
 * X-Forwarded-* are appended.
 */
function prepareHeaders(req: IncomingMessage): void {
  const headers = req.headers;
  // the common case, no Connection header, allocates nothing here
  if (headers.connection !== undefined) {
    for (const h of headers.connection.split(',')) {
      const name = h.trim().toLowerCase();
      if (name && !KEPT_DESPITE_CONNECTION.has(name) && !name.startsWith('x-hub-') && !name.startsWith('x-forwarded-')) delete headers[name];
    }
  }
  for (const h of HOP_BY_HOP) if (headers[h] !== undefined) delete headers[h];
  // The kernel's server has already answered `100 Continue` to this client (node does when
  // no 'checkContinue' listener is set), so the expectation is met on this hop; forwarded,
  // it would make node write the request line at construction, before the agent hook below
  // can set the exact path.
  if (headers.expect !== undefined) delete headers.expect;
  const socket = req.socket;
  append(headers, 'x-forwarded-for', socket.remoteAddress ?? '');
  append(headers, 'x-forwarded-port', String(socket.localPort ?? ''));
  append(headers, 'x-forwarded-proto', 'encrypted' in socket && socket.encrypted ? 'https' : 'http');
  if (headers.host !== undefined) append(headers, 'x-forwarded-host', headers.host);
}

function append(headers: IncomingMessage['headers'], key: string, value: string): void {
  const prev = headers[key];
  headers[key] = prev === undefined ? value : `${String(prev)},${value}`;
}

/**
 * Lower-case names of the response headers never copied from a module's answer to the client:
 * hop-by-hop headers, and the two that let one answer reach past the module's own paths on the
 * origin every module shares. `Service-Worker-Allowed: /` lets a module register a service
 * worker for the whole origin, which would then see every request of that browser (the
 * /login form's password, other modules' pages and APIs), and outlive the module's removal.
 * `Clear-Site-Data` clears the browser's cookies for the site, the hub's sessions included
 * (the Set-Cookie rule below keeps a module from touching hub cookies one by one).
 */
const DROPPED_RESPONSE_HEADERS = new Set([...HOP_BY_HOP, 'service-worker-allowed', 'clear-site-data']);

/**
 * The module's response headers for the client, as a flat [name, value, …] list straight
 * from `rawHeaders` (node then neither builds `proxyRes.headers` nor copies it): hop-by-hop
 * headers dropped, hub cookies a module tries to set dropped (kernel/hub-cookies.ts), and
 * the request's x-request-id (kernel/request-id.ts) in place of the module's.
 */
function clientHeaders(raw: string[], requestId: string | undefined): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (DROPPED_RESPONSE_HEADERS.has(lower) || (lower === REQUEST_ID_HEADER && requestId !== undefined)) continue;
    // a module must not set (overwrite, fixate, clear) any hub cookie: the user session, the
    // admin session (cookies ignore ports) or the OIDC flow cookie
    if (lower === 'set-cookie' && isHubCookie(raw[i + 1]!)) continue;
    out.push(name, raw[i + 1]!);
  }
  if (requestId !== undefined) out.push(REQUEST_ID_HEADER, requestId);
  return out;
}

/** What one proxied request needs to tie its two legs together. */
interface Hop {
  /** The exact path for the upstream request line. */
  path: string;
  upstream?: ClientRequest;
  upstreamRes?: IncomingMessage;
  timer?: NodeJS.Timeout;
  /** The client's response closed (answer complete, or the client left). */
  closed: boolean;
  /** We answered 504 ourselves; whatever the module says after that is dropped. */
  timedOut: boolean;
}

/** The agent's hook: the request http-proxy is about to create an upstream request for. */
interface Pending {
  hop: Hop | undefined;
}

/** A keep-alive agent that hands each upstream request to the hop it belongs to (see the top). */
function hopAgent(secure: boolean, pending: Pending): Agent {
  const options: AgentOptions = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, keepAliveMsecs: 1000 };
  const agent = secure ? new HttpsAgent(options) : new Agent(options);
  const addRequest = (agent as unknown as { addRequest: (req: ClientRequest, opts: unknown) => void }).addRequest;
  (agent as unknown as { addRequest: (req: ClientRequest, opts: unknown) => void }).addRequest = function (this: Agent, upstream, opts) {
    const hop = pending.hop;
    pending.hop = undefined;
    if (hop !== undefined) {
      upstream.path = hop.path;
      hop.upstream = upstream;
      // the client left or the deadline passed before the request existed
      if (hop.closed || hop.timedOut) process.nextTick(() => upstream.destroy());
    }
    return addRequest.call(this, upstream, opts);
  };
  return agent;
}

// the hop of a request, kept on the request itself (cheaper per request than a WeakMap)
const HOP = Symbol('hub.hop');
type WithHop = IncomingMessage & { [HOP]?: Hop };
const hopOf = (req: IncomingMessage): Hop | undefined => (req as WithHop)[HOP];

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
  const basePath = target.pathname === '/' ? '' : target.pathname;
  const pending: Pending = { hop: undefined };
  const agent = hopAgent(secure, pending);

  const onError = (err: NodeJS.ErrnoException, req: IncomingMessage, res: ServerResponse | Socket) => {
    if (!('writeHead' in res)) return void res.destroy();
    const hop = hopOf(req);
    if (hop?.timer !== undefined) clearTimeout(hop.timer);
    if (hop?.timedOut) return; // answered 504 already; this is the upstream leg we destroyed
    if (res.headersSent || res.destroyed || hop?.closed) {
      if (!res.writableEnded) res.destroy();
      return;
    }
    sendError(res, new HubError('module_unreachable', `module ${name} did not answer: ${err.code ?? err.message}`));
  };

  // Our own plugin instead of http-proxy-middleware's defaults: those add debug listeners to
  // every request and log to the console; we keep only what matters.
  const plugin: Plugin<IncomingMessage, ServerResponse> = (proxyServer) => {
    // http-proxy's deleteLength pass rewrites a DELETE or OPTIONS request without
    // Content-Length to `content-length: 0` and drops its Transfer-Encoding, which would cut a
    // chunked body: the module gets the request as the client sent it.
    const passes = (proxyServer as unknown as { webPasses: { name: string }[] }).webPasses;
    const at = passes.findIndex((p) => p.name === 'deleteLength');
    if (at >= 0) passes.splice(at, 1);

    proxyServer.on('start', (req) => {
      pending.hop = hopOf(req);
    });
    proxyServer.on('error', (err, req, res) => onError(err as NodeJS.ErrnoException, req, res as ServerResponse | Socket));
    // a request the agent hook did not see (it always should): take it here
    proxyServer.on('proxyReq', (proxyReq, req) => {
      const hop = hopOf(req);
      if (hop === undefined || hop.upstream !== undefined) return;
      hop.upstream = proxyReq;
      if (hop.closed || hop.timedOut) proxyReq.destroy();
    });
    proxyServer.on('proxyRes', (proxyRes, req, res) => {
      const hop = hopOf(req);
      // node sets `req` on a client response (the ClientRequest it answers); not in @types/node 20
      const upstream = (proxyRes as IncomingMessage & { req: ClientRequest }).req;
      if (hop !== undefined) {
        hop.upstreamRes = proxyRes;
        if (hop.timer !== undefined) clearTimeout(hop.timer);
        if (hop.closed || hop.timedOut) return void upstream.destroy();
      }
      if (res.destroyed) return void upstream.destroy();
      // We answer the client ourselves (selfHandleResponse): http-proxy's response passes
      // copy headers one setHeader call at a time and cost more than the rest of the hop.
      try {
        res.writeHead(proxyRes.statusCode ?? 502, proxyRes.statusMessage, clientHeaders(proxyRes.rawHeaders, requestIdOf(res)));
      } catch (e) {
        // node's client parses some status lines its server refuses to write (status 099, a
        // control character in the reason): thrown here it escaped as an uncaught exception
        // and the client never got an answer (tests/redteam-gateway-framing.test.ts)
        upstream.destroy();
        res.statusMessage = ''; // writeHead keeps the refused reason; the 502 takes its own
        const why = (e as NodeJS.ErrnoException).code ?? 'invalid answer';
        return void sendError(res, new HubError('module_unreachable', `module ${name} answered with a status line the gateway cannot forward (${why})`));
      }
      proxyRes.pipe(res);
      // the child died half-way through its answer: pipe() would leave the client waiting
      // forever for the rest, so cut the client's connection too
      proxyRes.on('close', () => {
        if (!proxyRes.complete) res.destroy();
      });
      // a request whose body is all read already (every GET) cannot be answered early
      if (!req.complete) proxyRes.on('end', () => {
        if (req.complete) return;
        // An answer before the body was read (item 3): the upstream leg carries half a body
        // and cannot be reused; the rest of the client's body is read and dropped, as
        // node's own server does, so the client is never left blocked mid-upload.
        req.unpipe(upstream);
        upstream.destroy();
        req.resume();
      });
    });
  };

  const middleware = createProxyMiddleware<IncomingMessage, ServerResponse>({
    // parsed once here: http-proxy would url.parse a string target again for every request
    // (the same legacy parse, so the result is identical)
    target: parseUrl(url),
    agent,
    // the path is set exactly by the agent hook; toProxy spares http-proxy's url.parse of it
    toProxy: true,
    selfHandleResponse: true,
    ejectPlugins: true,
    plugins: [plugin],
  });

  return {
    url,
    handle(req, res, opts = {}) {
      prepareHeaders(req);
      stampForModule(req, secret);
      const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      const hop: Hop = { path: basePath + (req.url ?? '/'), closed: false, timedOut: false };
      (req as WithHop)[HOP] = hop;
      hop.timer = setTimeout(() => {
        if (hop.upstreamRes !== undefined || hop.closed) return;
        hop.timedOut = true;
        sendError(res, new HubError('module_timeout', `module ${name} did not answer within its timeout_ms of ${timeoutMs} ms (module.json timeout_ms)`, { timeout_ms: timeoutMs }));
        hop.upstream?.destroy();
      }, timeoutMs);
      hop.timer.unref();

      // The client left (or its answer is complete): an upstream request still open is
      // destroyed, so the module sees its request closed and the agent's socket is freed.
      res.on('close', () => {
        hop.closed = true;
        clearTimeout(hop.timer);
        const upstream = hop.upstream;
        if (upstream !== undefined && !upstream.destroyed && !(hop.upstreamRes?.complete ?? false)) upstream.destroy();
      });

      void middleware(req, res, (err?: unknown) => {
        clearTimeout(hop.timer);
        if (res.headersSent || hop.closed) return;
        // http.request threw (a header or path node will not send)
        const why = err instanceof Error ? err.message : 'no route';
        sendError(res, new HubError('bad_request', `cannot forward this request: ${why}`));
      });
    },
    close() {
      agent.destroy();
    },
  };
}
