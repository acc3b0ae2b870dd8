// The gateway routes each module's api_prefix and /<name> pages to that module's own
// child, passes bodies through untouched, tags requests, and answers errors as JSON.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';

let k: RunningKernel;

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  writeModule(modulesDir, 'alpha', {
    router: `export default (router, ctx) => {
  router.get('/hello', (req, res) => res.json({ module: ctx.name, pid: process.pid, requestId: req.headers['x-request-id'], forwardedFor: req.headers['x-forwarded-for'] ?? null }));
  router.post('/echo-raw', (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => res.json({ type: req.headers['content-type'], length: Buffer.concat(chunks).length, hex: Buffer.concat(chunks).toString('hex') }));
  });
  router.post('/echo-json', (req, res) => res.json({ body: req.body }));
  router.get('/boom', () => { throw new Error('handler exploded'); });
  router.get('/socket', (req, res) => res.json({ remotePort: req.socket.remotePort }));
};`,
    views: `export default (router, ctx) => {
  router.get('/', (req, res) => res.render('index', { name: ctx.name, items: ['<b>x</b>'] }));
};`,
    files: { 'templates/index.ejs': '<h1>Hello from <%= name %></h1><ul><% for (const i of items) { %><li><%= i %></li><% } %></ul>' },
  });
  writeModule(modulesDir, 'beta', { router: helloRouter });
  writeModule(modulesDir, 'gamma', { router: helloRouter, manifest: { enabled: false } });
  writeModule(modulesDir, '_ignored', { router: helloRouter });
  writeModule(modulesDir, '.hidden', { router: helloRouter });
  k = await startKernel({ modulesDir });
});

afterAll(stopAllKernels);

describe('gateway', () => {
  it('logs discovery the way the original hub did', () => {
    const text = k.lines.join('\n');
    expect(text).toContain('📦 Found module alpha v1.0.0 (enabled=true)');
    expect(text).toContain('📦 Found module gamma v1.0.0 (enabled=false)');
    expect(text).toMatch(/✅ Loaded 2 modules: \[alpha, beta\]/);
    expect(text).not.toContain('_ignored');
    expect(text).not.toContain('.hidden');
  });

  it('routes each api_prefix to its own child process', async () => {
    const a = await k.json('/api/v1/alpha/hello');
    const b = await k.json('/api/v1/beta/hello');
    expect(a.module).toBe('alpha');
    expect(b.module).toBe('beta');
    expect(a.pid).not.toBe(b.pid);
    expect(a.pid).not.toBe(k.proc.pid);
    const records = await k.json<any[]>('/api/v1/modules');
    expect(records.find((r) => r.name === 'alpha').pid).toBe(a.pid);
  });

  it('answers a browser\'s /favicon.ico with 204 on both origins, not a 404 in every page\'s console', async () => {
    for (const url of [`${k.url}/favicon.ico`, `${k.adminUrl}/favicon.ico`]) {
      const res = await fetch(url);
      expect(res.status, url).toBe(204);
      expect(res.headers.get('cache-control')).toMatch(/max-age=86400/);
    }
  });

  it('serves the free health route of every module', async () => {
    const res = await k.get('/api/v1/beta/health');
    expect(res.status).toBe(200);
    expect(await res.json() as any).toMatchObject({ status: 'ok', module: 'beta', version: '1.0.0' });
  });

  it('renders a module page from its EJS template, escaped', async () => {
    const res = await k.get('/alpha');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<h1>Hello from alpha</h1>');
    expect(html).toContain('&lt;b&gt;x&lt;/b&gt;');
  });

  it('passes request bodies through byte for byte', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 13, 10, 0x7b]);
    const res = await k.get('/api/v1/alpha/echo-raw', { method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    expect(await res.json() as any).toEqual({ type: 'application/octet-stream', length: bytes.length, hex: bytes.toString('hex') });
    const json = await k.json('/api/v1/alpha/echo-json', { method: 'POST', body: JSON.stringify({ a: [1, 'ø'] }), headers: { 'content-type': 'application/json' } });
    expect(json).toEqual({ body: { a: [1, 'ø'] } });
  });

  it('sets x-request-id, keeps a given one, and forwards X-Forwarded-For', async () => {
    const fresh = await k.get('/api/v1/alpha/hello');
    const id = fresh.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await fresh.json() as any).requestId).toBe(id);
    const given = await k.get('/api/v1/alpha/hello', { headers: { 'x-request-id': 'trace-123' } });
    expect(given.headers.get('x-request-id')).toBe('trace-123');
    const body = (await given.json()) as any;
    expect(body.requestId).toBe('trace-123');
    expect(body.forwardedFor).toMatch(/127\.0\.0\.1/);
  });

  it('answers errors as JSON: handler throw, unknown module route, unknown kernel route', async () => {
    const boom = await k.get('/api/v1/alpha/boom');
    expect(boom.status).toBe(500);
    expect(await boom.json() as any).toEqual({ error: 'internal_error', message: 'handler exploded' });
    const missing = await k.get('/api/v1/alpha/nope');
    expect(missing.status).toBe(404);
    expect((await missing.json() as any).error).toBe('not_found');
    const kernel404 = await k.get('/definitely/not/here');
    expect(kernel404.status).toBe(404);
    expect(kernel404.headers.get('content-type')).toContain('application/json');
    expect((await kernel404.json() as any).error).toBe('not_found');
    // the child survived its handler's throw
    expect((await k.get('/api/v1/alpha/hello')).status).toBe(200);
  });

  it('answers 503 with Retry-After for a module that is not running', async () => {
    const res = await k.get('/api/v1/gamma/hello');
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await res.json() as any).toMatchObject({ error: 'module_not_running' });
  });

  it('does not mistake a longer path for a module prefix', async () => {
    const res = await k.get('/api/v1/alphabet/hello');
    expect(res.status).toBe(404);
  });

  it('reports health and module records with every field of the contract', async () => {
    const health = await k.json('/health');
    expect(health).toEqual({ status: 'ok', isolation: expect.stringMatching(/^(uid|process)$/), modules: { alpha: 'running', beta: 'running', gamma: 'disabled' } });
    const ready = await k.get('/health/ready');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
    const rec = await k.record('alpha');
    for (const field of ['name', 'version', 'description', 'enabled', 'state', 'pid', 'port', 'restarts', 'uptime_ms', 'memory_rss_bytes', 'api_prefix', 'tags', 'dependencies', 'last_error', 'remote', 'db_isolation', 'isolation']) {
      expect(rec).toHaveProperty(field);
    }
    expect(rec).toMatchObject({ state: 'running', enabled: true, api_prefix: '/api/v1/alpha', remote: false });
    const unknown = await k.get('/api/v1/modules/nosuch');
    expect(unknown.status).toBe(404);
    expect((await unknown.json() as any).error).toBe('module_not_found');
  });

  it('keeps connections to children alive instead of opening one per request', async () => {
    const ports = new Set<number>();
    for (let i = 0; i < 20; i++) {
      // a fresh client connection each time: only the kernel's upstream pool can reuse sockets
      const body = await new Promise<string>((resolve, reject) => {
        const req = request(`${k.url}/api/v1/alpha/socket`, { agent: false }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.end();
      });
      ports.add(JSON.parse(body).remotePort);
    }
    expect(ports.size).toBeLessThanOrEqual(2);
  });
});
