// Who may change the hub. With HUB_ADMIN_TOKEN set, a mutation needs that bearer token
// (compared in constant time); without it, only loopback clients may mutate. Either way a
// request whose Host is not one of the hub's own names is refused, so a web page that
// rebinds its DNS name to 127.0.0.1 cannot drive the admin API from a browser, and so is a
// cross-site request (Origin or Sec-Fetch-Site), so no other site can either.
import { createHash, timingSafeEqual } from 'node:crypto';
import { hostname } from 'node:os';
import type { NextFunction, Request, Response } from 'express';
import { HubError } from '../shared/errors.js';
import type { KernelConfig } from './config.js';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]', '::1'];

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

function hostOnly(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1).toLowerCase();
  const colon = host.lastIndexOf(':');
  return (colon === -1 ? host : host.slice(0, colon)).toLowerCase();
}

export function allowedHosts(config: KernelConfig, env: NodeJS.ProcessEnv = process.env): Set<string> | null {
  const extra = (env.HUB_ALLOWED_HOSTS ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
  if (extra.includes('*')) return null;
  // bound to every interface with a token: the token is the guard, any Host may reach us
  if ((config.host === '0.0.0.0' || config.host === '::') && config.adminToken && extra.length === 0) return null;
  return new Set([...LOOPBACK_NAMES, hostname().toLowerCase(), config.host.toLowerCase(), ...extra]);
}

function originHost(origin: string): string {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return '';
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export function adminGuard(config: KernelConfig): (req: Request, res: Response, next: NextFunction) => void {
  const hosts = allowedHosts(config);
  const expected = config.adminToken ? digest(config.adminToken) : null;
  return (req, _res, next) => {
    const host = req.headers.host;
    if (hosts && (!host || !hosts.has(hostOnly(host)))) {
      throw new HubError('forbidden', `Host "${String(host).slice(0, 100)}" is not this hub's name; add it to HUB_ALLOWED_HOSTS`);
    }
    // A browser sends Origin / Sec-Fetch-Site: another site's page must not drive the admin
    // API through the user's browser (a plain form POST passes the Host and loopback checks).
    const site = req.headers['sec-fetch-site'];
    const origin = req.headers.origin;
    if (site === 'cross-site' || (typeof origin === 'string' && origin !== 'null' && host && originHost(origin) !== host.toLowerCase())) {
      throw new HubError('forbidden', `cross-site request from ${String(origin ?? site).slice(0, 100)} refused; call the admin API from the hub's own pages or a non-browser client`);
    }
    if (expected) {
      const auth = req.headers.authorization ?? '';
      const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      // hashing first makes both sides the same length, so the compare leaks nothing
      if (!token || !timingSafeEqual(digest(token), expected)) {
        throw new HubError('unauthorized', 'admin token missing or wrong: send Authorization: Bearer <HUB_ADMIN_TOKEN>');
      }
    } else if (!isLoopback(req.socket.remoteAddress)) {
      throw new HubError('forbidden', 'admin changes are accepted from this machine only; set HUB_ADMIN_TOKEN to allow remote clients');
    }
    next();
  };
}
