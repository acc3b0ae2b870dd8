// A module's answers to the kernel's own requests (its API docs, a remote module's health and
// stats) are data, never directions (issue 11: "a kernel that believes nothing a module says").
// Found in the issue 11 re-check: the kernel's fetch followed a module's redirect, so a module
// whose /_hub/openapi.json answered `302 Location: <any URL>` made the kernel request that URL
// (carrying the module's secret) and merge the answer into the public API docs — for a remote
// module, a request from inside the hub's machine that the module's own container could not
// make. And a remote module's /_hub/stats answer was read whole, whatever its size.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

/** Module code that turns the runtime's own /_hub/openapi.json answer into a redirect to `to`. */
const redirectingRouter = (to: string) => `import http from 'node:http';
const end = http.ServerResponse.prototype.end;
http.ServerResponse.prototype.end = function (...args) {
  if (this.req?.url?.startsWith('/_hub/openapi.json') && !this.headersSent) {
    this.statusCode = 302;
    this.setHeader('location', ${JSON.stringify(to)});
    this.removeHeader('content-length');
    return end.call(this, '');
  }
  return end.apply(this, args);
};
export default (router) => router.get('/x', (req, res) => res.json({ ok: true }));`;

const TRAP_DOC = JSON.stringify({ openapi: '3.0.0', paths: { '/fetched-by-the-kernel': { get: { summary: 'what the kernel should never have asked for' } } } });

let trap: Server;
let trapUrl: string;
const trapHits: IncomingMessage['headers'][] = [];
let remote: Server;
let k: RunningKernel;

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

beforeAll(async () => {
  // stands for anything the kernel's machine can reach: an internal service, the admin origin
  trap = createServer((req, res) => {
    trapHits.push(req.headers);
    res.setHeader('content-type', 'application/json');
    res.end(TRAP_DOC);
  });
  trapUrl = `http://127.0.0.1:${await listen(trap)}/internal`;
  // a hostile remote module: healthy, but its docs redirect and its stats are 1 MB
  remote = createServer((req, res) => {
    const path = req.url ?? '/';
    if (path === '/api/v1/faraway/health') return void res.end('{"status":"ok"}');
    if (path === '/_hub/openapi.json') {
      res.writeHead(307, { location: trapUrl });
      return void res.end();
    }
    if (path === '/_hub/stats') {
      res.setHeader('content-type', 'application/json');
      return void res.end(JSON.stringify({ rss: 123456789, heapUsed: 1, loopLagMs: 0, cpuMicros: 0, pad: 'x'.repeat(1024 * 1024) }));
    }
    res.statusCode = 404;
    res.end();
  });
  const remotePort = await listen(remote);
  const modulesDir = tempDir('modules');
  writeModule(modulesDir, 'redirector', { router: redirectingRouter(trapUrl) });
  writeModule(modulesDir, 'calm', { router: helloRouter });
  writeModule(modulesDir, 'faraway', { router: helloRouter });
  k = await startKernel({
    modulesDir,
    env: { MODULES__FARAWAY__URL: `http://127.0.0.1:${remotePort}`, MODULES__FARAWAY__SECRET: 'remote-secret-redirects', HUB_REMOTE_CHECK_MS: '200' },
  });
}, 60_000);

afterAll(async () => {
  await stopAllKernels();
  trap?.close();
  remote?.close();
});

describe('a module answering the kernel with a redirect', () => {
  it('is left out of the API docs with the reason; the kernel never requests the redirect target', async () => {
    await k.waitForState('redirector', 'running');
    await k.waitForState('faraway', 'running');
    const doc = await waitFor(async () => {
      const d = await k.json('/api/docs/openapi.json');
      return /redirector \(answered 302, a redirect/.test(d.info.description) && /faraway \(answered 307, a redirect/.test(d.info.description) ? d : undefined;
    }, { what: 'both redirecting documents refused' });
    expect(Object.keys(doc.paths).filter((p) => p.includes('fetched-by-the-kernel'))).toEqual([]);
    expect(doc.paths['/api/v1/calm/hello']).toBeDefined();
    expect(trapHits).toEqual([]);
    expect(await k.waitForLog(/API docs of redirector left out: answered 302, a redirect, which the kernel does not follow/)).toBeTruthy();
    // and the modules keep serving
    expect((await k.get('/api/v1/redirector/x')).status).toBe(200);
  });
});

describe('a remote module', () => {
  it('stays without memory figures when its /_hub/stats answer is past 64 KiB (read no further)', async () => {
    // the health check answered (running); a stats answer is tried with every check
    await waitFor(async () => (await k.record('faraway')).state === 'running', { what: 'faraway running' });
    await new Promise<void>((resolve) => {
      // three more checks at 200 ms, each reading (and refusing) the 1 MB answer
      let seen = 0;
      const onReq = (req: IncomingMessage) => {
        if (req.url === '/_hub/stats' && ++seen === 3) {
          remote.off('request', onReq);
          resolve();
        }
      };
      remote.on('request', onReq);
    });
    const rec = await k.record('faraway');
    expect(rec.state).toBe('running');
    expect(rec.memory_rss_bytes).toBeNull();
  });

  it('is unreachable when its health route answers with a redirect, even to a route that answers 200', async () => {
    remote.removeAllListeners('request');
    remote.on('request', (req, res) => {
      if (req.url === '/api/v1/faraway/health') {
        res.writeHead(302, { location: trapUrl });
        return void res.end();
      }
      res.statusCode = 404;
      res.end();
    });
    const rec = await k.waitForState('faraway', 'unreachable');
    expect(rec.last_error).toMatch(/health check answered 302/);
    expect(trapHits).toEqual([]);
  });
});
