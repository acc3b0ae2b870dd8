// The kernel's HTTP front door. Requests for a module are matched and proxied here,
// before express: proxied traffic never runs the kernel's body parsers or middleware,
// and its body reaches the child byte for byte. Everything else goes to the kernel's
// own express app. Both origins' front doors live here: before anything else, every
// request meets the Host guard (421) and the cross-site guard (403), module routes included
// (kernel/request-guards.ts).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { HubError } from '../shared/errors.js';
import { FRONT_DOOR_SERVER_OPTIONS, frontDoorLimits, guardFrontDoor, type FrontDoorLimits } from './front-door.js';
import { sendError, sendErrorFor } from './http-errors.js';
import { DEFAULT_TIMEOUT_MS } from './proxy.js';
import { adminOriginRefusal, crossSiteRefusal, serviceWorkerRefusal } from './request-guards.js';
import { assignRequestId } from './request-id.js';
import type { RouteTable } from './route-table.js';
import type { ModuleSupervisor } from './supervisor.js';
import type { IdentityGate } from './identity-gate.js';
import { hasGivenUp, isOff } from '../shared/module-states.js';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * 503 for a module that is not serving: what is wrong and whether retrying helps. A failed
 * module says where to look and carries no Retry-After; the others (starting, restarting,
 * disabled, a remote one unreachable) say when to retry. HTML for browsers (Accept: text/html), JSON otherwise.
 */
function notRunning(sup: ModuleSupervisor, req: IncomingMessage, res: ServerResponse): void {
  const failed = hasGivenUp(sup.state);
  const why = sup.lastError ? `: ${sup.lastError.slice(0, 300)}` : '';
  const message =
    failed ? `module ${sup.name} has failed${why}. It stays down until it is fixed and restarted; see hubctl logs ${sup.name}`
    : isOff(sup.state) ? `module ${sup.name} is disabled; an operator can start it with hubctl enable ${sup.name}`
    : `module ${sup.name} is ${sup.state}; try again in ${sup.retryAfterSeconds} s`;
  // a failed module gets no Retry-After: retrying does not help until someone fixes it
  sendErrorFor(req, res, new HubError('module_not_running', message, { state: sup.state }), failed ? {} : { 'retry-after': String(sup.retryAfterSeconds) });
}

/** Called for every request routed to a module, before it is proxied (metrics hook on it). */
export type ModuleRequestObserver = (sup: ModuleSupervisor, req: IncomingMessage, res: ServerResponse) => void;

/** A Host check (kernel/request-guards.ts hostGuard), or null when any Host is fine. */
export type HostCheck = ((req: IncomingMessage) => HubError | null) | null;

/**
 * The public origin: module routes proxied, the rest to `kernelApp`. `hostCheck` answers
 * 421 for a foreign Host; a cross-site state-changing request gets 403 before any route.
 */
export function createGateway(
  routes: RouteTable<ModuleSupervisor>,
  kernelApp: RequestListener,
  holdMs: number,
  observe: ModuleRequestObserver = () => undefined,
  hostCheck: HostCheck = null,
  gate: IdentityGate | null = null,
  limits: FrontDoorLimits = frontDoorLimits(),
): Server {
  const server = createServer(FRONT_DOOR_SERVER_OPTIONS, (req, res) => {
    const refused = hostCheck?.(req) ?? crossSiteRefusal(req);
    if (refused) return sendError(res, refused);
    const sup = routes.match(req.url ?? '/');
    if (sup === undefined) return kernelApp(req, res);
    observe(sup, req, res);
    // on the request for the module, and on every answer (kernel/request-id.ts)
    assignRequestId(req, res);
    // a module's service worker may control only the module's own folders
    const sw = serviceWorkerRefusal(sup.name, sup.entry.manifest?.api_prefix, req);
    if (sw) return sendError(res, sw);
    // who is asking, and may they (kernel/identity-gate.ts): 401/403 before the child
    if (gate) gate(sup, req, res, () => proxyTo(sup, req, res, holdMs));
    else proxyTo(sup, req, res, holdMs);
  });
  // connection ceilings and header/request/idle timeouts (kernel/front-door.ts)
  guardFrontDoor(server, limits);
  return server;
}

/** Hands the request to the module's proxy, holding it up to `holdMs` for a restarting child. */
function proxyTo(sup: ModuleSupervisor, req: IncomingMessage, res: ServerResponse, holdMs: number): void {
  const opts = { timeoutMs: sup.entry.manifest?.timeout_ms ?? DEFAULT_TIMEOUT_MS };
  const target = sup.target;
  if (target !== null) return target.handle(req, res, opts);
  // Restarting after a crash usually takes tens of milliseconds: hold the request for the
  // new child rather than fail it. The body waits in the socket; nothing is read yet.
  void sup.targetWithin(holdMs).then((next) => {
    if (res.destroyed) return;
    if (next === null) notRunning(sup, req, res);
    else next.handle(req, res, opts);
  });
}

/**
 * The admin origin: no module is ever routed here. Host guard (421), then the admin
 * origin's own-pages-only rule for state-changing requests (403), then the admin app.
 */
export function createAdminGateway(adminApp: RequestListener, hostCheck: HostCheck = null, limits: FrontDoorLimits = frontDoorLimits()): Server {
  const server = createServer(FRONT_DOOR_SERVER_OPTIONS, (req, res) => {
    const refused = hostCheck?.(req) ?? adminOriginRefusal(req);
    if (refused) return sendError(res, refused);
    adminApp(req, res);
  });
  guardFrontDoor(server, limits);
  return server;
}
