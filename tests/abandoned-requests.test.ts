// Issue 14, items 2, 3 and 4: what the gateway does when a client gives up, when a module
// answers before reading an upload, and when a module is slower than its timeout_ms.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

let k: RunningKernel;

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  // /slow never answers by itself; it notes when the request is closed under it
  const tracking = `const open = new Map(); const closedAt = new Map();
export default (router) => {
  router.get('/slow', (req, res) => {
    const id = String(req.query.id);
    open.set(id, Date.now());
    res.on('close', () => { open.delete(id); closedAt.set(id, Date.now()); });
  });
  router.get('/closed', (req, res) => { const id = String(req.query.id); const at = closedAt.get(id); res.json({ opened: open.has(id) || at !== undefined, closed: at !== undefined, at: at ?? null, open: open.size }); });
  router.get('/hello', (req, res) => res.json({ ok: true }));
  router.get('/short', (req, res) => { const t = setTimeout(() => res.json({ ok: true }), 300); res.on('close', () => clearTimeout(t)); });
  router.post('/early', (req, res) => res.json({ ok: true, read: false }));
};`;
  writeModule(modulesDir, 'slowpoke', { manifest: { timeout_ms: 800 }, router: tracking });
  // no timeout_ms: the 120 s default
  writeModule(modulesDir, 'patient', { router: tracking });
  k = await startKernel({ modulesDir });
});

afterAll(stopAllKernels);

describe('abandoned requests (item 2)', () => {
  it('the child sees the request closed within 1 s of the client leaving', async () => {
    const ac = new AbortController();
    const pending = k.get('/api/v1/patient/slow?id=a1', { signal: ac.signal });
    // the request is open in the child before the client gives up
    await waitFor(async () => ((await k.json('/api/v1/patient/closed?id=a1')).opened ? true : undefined), { timeoutMs: 10_000, what: 'the request open in the child' });
    const leftAt = Date.now();
    ac.abort();
    await expect(pending).rejects.toThrow();
    const closed = await waitFor(async () => {
      const s = await k.json('/api/v1/patient/closed?id=a1');
      return s.closed ? s : undefined;
    }, { timeoutMs: 5000, what: 'the child to see its request closed' });
    const cleanupMs = closed.at - leftAt;
    console.log(`abandoned-request cleanup: ${cleanupMs} ms after the client left`);
    expect(cleanupMs).toBeLessThan(1000);
  });

  it('after 300 abandoned requests the module is still reachable through the gateway', async () => {
    for (let batch = 0; batch < 6; batch++) {
      await Promise.all(Array.from({ length: 50 }, (_, i) =>
        k.get(`/api/v1/patient/slow?id=b${batch}-${i}`, { signal: AbortSignal.timeout(200) }).catch(() => undefined)));
    }
    const res = await k.get('/api/v1/patient/hello', { signal: AbortSignal.timeout(3000) });
    expect(res.status).toBe(200);
    // nothing is left open in the child
    await waitFor(async () => ((await k.json('/api/v1/patient/closed?id=none')).open === 0 ? true : undefined), { timeoutMs: 5000, what: 'no open requests in the child' });
  });
});

describe('an early answer to an unread upload (item 3)', () => {
  const upload = (bytes: number) =>
    new Promise<{ status: number; ms: number; body: string }>((resolve, reject) => {
      const started = Date.now();
      const req = request(`${k.url}/api/v1/patient/early`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': bytes } }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, ms: Date.now() - started, body }));
      });
      req.on('error', reject);
      req.setTimeout(15_000, () => req.destroy(new Error('no answer within 15 s')));
      // write the 5 MB in pieces, as an uploading client does
      const piece = Buffer.alloc(64 * 1024, 7);
      let sent = 0;
      const pump = () => {
        while (sent < bytes) {
          const n = Math.min(piece.length, bytes - sent);
          sent += n;
          if (!req.write(piece.subarray(0, n))) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });

  it('5 of 5 uploads of 5 MB get their 200 promptly', async () => {
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await upload(5 * 1024 * 1024));
    console.log(`early-answer uploads: ${results.map((r) => `${r.status} in ${r.ms} ms`).join(', ')}`);
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ ok: true, read: false });
      expect(r.ms).toBeLessThan(5000);
    }
    expect((await k.get('/api/v1/patient/hello')).status).toBe(200);
  });
});

describe('slow is not dead (item 4)', () => {
  it('a route slower than timeout_ms gets 504 module_timeout naming the limit, and the child sees it closed', async () => {
    const started = Date.now();
    const res = await k.get('/api/v1/slowpoke/slow?id=t1', { signal: AbortSignal.timeout(10_000) });
    expect(res.status).toBe(504);
    const body = (await res.json()) as any;
    expect(body.error).toBe('module_timeout');
    expect(body.message).toMatch(/timeout_ms of 800 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
    await waitFor(async () => ((await k.json('/api/v1/slowpoke/closed?id=t1')).closed ? true : undefined), { timeoutMs: 3000, what: 'the timed-out request closed in the child' });
  });

  it('a module without timeout_ms keeps the 120 s default: a 300 ms route answers', async () => {
    const res = await k.get('/api/v1/patient/short');
    expect(res.status).toBe(200);
  });
});
