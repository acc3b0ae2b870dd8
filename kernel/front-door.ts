// Resource limits at the kernel's front door (issue 14, item 10): one client must not be
// able to starve the others of sockets or file descriptors. Three walls:
// - a per-client ceiling on open connections (by remote address; HUB_MAX_CONNECTIONS_PER_CLIENT,
//   default 256): the next connection from that address is closed at once;
// - a total ceiling (HUB_MAX_CONNECTIONS, default 4096): node refuses the rest; each proxied
//   request costs two descriptors (client and child leg), so this stays far below a 20,000 fd limit;
// - time limits: request headers within HUB_HEADERS_TIMEOUT_MS (default 20 s, from the
//   connection's start for the first request), the whole request within HUB_REQUEST_TIMEOUT_MS
//   (default 300 s), idle keep-alive sockets closed after 65 s (longer than load balancers'
//   idle timers). Node checks these every second (connectionsCheckingInterval).
// A client is its IPv4 address, or its IPv6 /64 (kernel/client-address.ts).
// A hub behind a load balancer sees one address for many users: raise the per-client ceiling there.
import type { Server, ServerOptions } from 'node:http';
import { clientAddressKey } from './client-address.js';

export interface FrontDoorLimits {
  maxConnections: number;
  maxPerClient: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

/** The configured values (config.limits, checked in kernel/config.ts); a missing one is the default above. */
export interface FrontDoorSettings {
  maxConnections: number;
  maxConnectionsPerClient: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

function atLeast(value: number | undefined, fallback: number, min: number): number {
  return value !== undefined && Number.isInteger(value) && value >= min ? value : fallback;
}

/** The limits from the configured values (defaults above); a value below its floor falls back to the default. */
export function frontDoorLimits(settings: Partial<FrontDoorSettings> = {}): FrontDoorLimits {
  const headersTimeoutMs = atLeast(settings.headersTimeoutMs, 20_000, 100);
  return {
    maxConnections: atLeast(settings.maxConnections, 4096, 1),
    maxPerClient: atLeast(settings.maxConnectionsPerClient, 256, 1),
    headersTimeoutMs,
    // node requires requestTimeout > headersTimeout
    requestTimeoutMs: Math.max(atLeast(settings.requestTimeoutMs, 300_000, 1000), headersTimeoutMs + 1),
    keepAliveTimeoutMs: 65_000,
  };
}

/** Options for http.createServer: how often node sweeps connections for the timeouts (ms). */
export const FRONT_DOOR_SERVER_OPTIONS: ServerOptions = { connectionsCheckingInterval: 1000 };

/** Applies `limits` to `server`; call before listen(). */
export function guardFrontDoor(server: Server, limits: FrontDoorLimits = frontDoorLimits()): void {
  server.maxConnections = limits.maxConnections;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  const open = new Map<string, number>();
  server.on('connection', (socket) => {
    const who = clientAddressKey(socket.remoteAddress);
    const n = (open.get(who) ?? 0) + 1;
    if (n > limits.maxPerClient) {
      socket.destroy();
      return;
    }
    open.set(who, n);
    socket.once('close', () => {
      const left = (open.get(who) ?? 1) - 1;
      if (left <= 0) open.delete(who);
      else open.set(who, left);
    });
  });
}

