// GET /api/docs/openapi.json: one valid OpenAPI 3 document from every running module's own
// router, paths under each api_prefix, one tag per module, annotations merged; a module that
// is down drops out and comes back. GET /api/docs serves Swagger UI from the npm package.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import express from 'express';
import SwaggerParser from '@apidevtools/swagger-parser';
import { collectRoutes, toOpenApiPath } from '../shared/runtime/openapi.js';
import { isPlainPath, mergeDocuments, readCapped } from '../kernel/openapi.js';
import type { ModuleSupervisor } from '../kernel/supervisor.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

let k: RunningKernel;

type Doc = { openapi: string; info: { description: string }; tags: { name: string }[]; paths: Record<string, Record<string, any>>; components?: { securitySchemes: Record<string, any> } };

const docs = () => k.json<Doc>('/api/docs/openapi.json');

beforeAll(async () => {
  const modulesDir = tempDir('openapi');
  writeModule(modulesDir, 'alpha', {
    manifest: { tags: ['Alpha Things'], description: 'Alpha <b>module</b>' },
    router: `export default (router, ctx) => {
  router.get('/items', (req, res) => res.json([]));
  router.post('/items', (req, res) => res.status(201).json({}));
  router.get('/items/:id', (req, res) => res.json({ id: req.params.id }));
  router.delete('/items/:id', (req, res) => res.json({}));
  router.get('/crash', (req, res) => { res.json({}); setTimeout(() => process.exit(1), 20); });
  ctx.docs('get', '/items/:id', {
    summary: 'One item',
    parameters: [{ name: 'id', in: 'path', required: true, description: 'item id', schema: { type: 'integer' } }],
    responses: { '200': { description: 'the item', content: { 'application/json': { schema: { type: 'object', properties: { id: { type: 'integer' } } } } } } },
  });
  ctx.docs('post', '/items', { summary: 'Create an item', requestBody: { content: { 'application/json': { schema: { type: 'object' } } } } });
};`,
  });
  // no tags: grouped under its name
  writeModule(modulesDir, 'beta', { router: helloRouter, manifest: { tags: [] } });
  writeModule(modulesDir, 'gamma', { router: helloRouter, manifest: { enabled: false, api_prefix: '/api/v2/gamma' } });
  k = await startKernel({ modulesDir, env: { HUB_BACKOFF_BASE_MS: '50' } });
});

afterAll(stopAllKernels);

describe('merged OpenAPI document', () => {
  it('is a valid OpenAPI 3 document', async () => {
    const doc = await docs();
    expect(doc.openapi).toMatch(/^3\.0\./);
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
  });

  it('lists every route of each running module under its api_prefix, with the runtime health route', async () => {
    const doc = await docs();
    // the modules' paths; the kernel's own are checked with the tags
    const paths = Object.keys(doc.paths).filter((p) => /^\/api\/v1\/(alpha|beta)\//.test(p)).sort();
    expect(paths).toEqual([
      '/api/v1/alpha/crash',
      '/api/v1/alpha/health',
      '/api/v1/alpha/items',
      '/api/v1/alpha/items/{id}',
      '/api/v1/beta/health',
      '/api/v1/beta/hello',
    ]);
    expect(Object.keys(doc.paths['/api/v1/alpha/items']!).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/api/v1/alpha/items/{id}']!).sort()).toEqual(['delete', 'get']);
    // a path parameter the module did not describe is still declared
    expect(doc.paths['/api/v1/alpha/items/{id}']!.delete.parameters).toEqual([{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }]);
  });

  it('merges the annotations a module gives with ctx.docs', async () => {
    const doc = await docs();
    const one = doc.paths['/api/v1/alpha/items/{id}']!.get;
    expect(one.summary).toBe('One item');
    expect(one.parameters).toEqual([{ name: 'id', in: 'path', required: true, description: 'item id', schema: { type: 'integer' } }]);
    expect(one.responses['200'].description).toBe('the item');
    expect(doc.paths['/api/v1/alpha/items']!.post.requestBody.content['application/json']).toBeDefined();
  });

  it('groups each module under its tags (its name when it has none), one tag per module', async () => {
    const doc = await docs();
    expect(doc.tags.map((t) => t.name)).toEqual(['Alpha Things', 'beta', 'Hub kernel']);
    const tagOf = (path: string) => (path.startsWith('/api/v1/alpha') ? 'Alpha Things' : path.startsWith('/api/v1/beta') ? 'beta' : 'Hub kernel');
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const op of Object.values(item)) expect(op.tags).toEqual([tagOf(path)]);
    }
    // the kernel's own admin API is documented next to the modules; on the public origin with no
    // "Authorize" box (a token typed there would sit where module pages can reach it) ...
    expect(doc.paths['/api/v1/modules/{name}/enable']!.post.security).toEqual([]);
    expect(doc.paths['/api/v1/modules/{name}/enable']!.post.description).toMatch(/admin origin/);
    // no schemes at all (an empty securitySchemes still makes Swagger UI show an Authorize box)
    expect(doc.components).toBeUndefined();
    // ... and on the admin origin with its bearer token, required
    const adminDoc = (await (await k.admin('/api/docs/openapi.json')).json()) as typeof doc;
    expect(adminDoc.paths['/api/v1/modules/{name}/enable']!.post.security).toEqual([{ adminToken: [] }]);
    expect(adminDoc.paths['/api/v1/modules/{name}/logs']!.get.security).toEqual([{ adminToken: [] }]);
    expect(adminDoc.components!.securitySchemes.adminToken).toMatchObject({ type: 'http', scheme: 'bearer' });
    // and module operations carry the kernel's choice: no security, so Swagger UI sends them no token
    expect(doc.paths['/api/v1/alpha/items']!.get.security).toEqual([]);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/health', '/api/v1/modules', '/api/v1/modules/{name}/logs']));
    // a manifest description is plain text, not Markdown/HTML for Swagger UI to render
    expect(JSON.stringify(doc.tags)).not.toContain('<b>');
    const ids = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('drops a module that is down and takes it back when it runs again', async () => {
    expect((await k.admin('/api/v1/modules/gamma/enable', { method: 'POST' })).status).toBe(200);
    let doc = await docs();
    expect(doc.paths['/api/v2/gamma/hello']).toBeDefined();
    expect(doc.tags.map((t) => t.name)).toContain('gamma');

    expect((await k.admin('/api/v1/modules/alpha/disable', { method: 'POST' })).status).toBe(200);
    doc = await docs();
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/api/v1/alpha'))).toEqual([]);
    expect(doc.tags.map((t) => t.name)).not.toContain('Alpha Things');
    expect(doc.info.description).toContain('alpha');
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();

    expect((await k.admin('/api/v1/modules/alpha/enable', { method: 'POST' })).status).toBe(200);
    doc = await docs();
    expect(doc.paths['/api/v1/alpha/items/{id}']!.get.summary).toBe('One item');
  });

  it('follows a module through a crash restart (a new child is asked again)', async () => {
    const pid = (await k.record('alpha')).pid;
    await k.get('/api/v1/alpha/crash');
    await waitFor(async () => {
      const r = await k.record('alpha');
      return r.state === 'running' && r.pid !== pid;
    }, { what: 'alpha restarted' });
    const doc = await docs();
    expect(doc.paths['/api/v1/alpha/items']).toBeDefined();
  });
});

describe('Swagger UI', () => {
  it('is served at /api/docs from the npm package, with no outside URL', async () => {
    const res = await k.get('/api/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    expect(html).not.toMatch(/https?:\/\//);
    for (const asset of ['/api/docs/ui/swagger-ui-bundle.js', '/api/docs/ui/swagger-ui.css', '/api/docs/init.js']) {
      expect(html).toContain(asset);
      const a = await k.get(asset);
      expect(a.status, asset).toBe(200);
      await a.arrayBuffer();
    }
  });
});

describe('routes read from an express router', () => {
  it('walks nested routers and converts express 5 paths', () => {
    const inner = express.Router();
    inner.get('/:id', () => undefined);
    inner.patch('/:id/tags/*rest', () => undefined);
    const router = express.Router();
    router.use(express.json());
    router.get('/', () => undefined);
    router.get('/files{/:name}', () => undefined);
    router.post(['/a', '/b'], () => undefined);
    router.get(/^\/regex$/, () => undefined);
    router.use('/things', inner);
    const found = collectRoutes(router as never).map((r) => `${r.method} ${r.path}`);
    expect(found).toEqual([
      'get /',
      'get /files',
      'get /files/{name}',
      'post /a',
      'post /b',
      'get /things/{id}',
      'patch /things/{id}/tags/{rest}',
    ]);
    expect(toOpenApiPath('/x/:"quoted name"/y/')).toBe('/x/{quoted name}/y');
  });
});

describe('what the kernel keeps of a module document (pure)', () => {
  const sup = { name: 'thief', entry: { manifest: { api_prefix: '/api/v1/thief', tags: ['Thief'], description: 'x' } } } as unknown as ModuleSupervisor;

  it('drops a module\'s security, servers and anything that is not an HTTP method', () => {
    const doc = {
      openapi: '3.0.3',
      info: { title: 'thief', version: '1.0.0' },
      paths: {
        '/loot': {
          get: { summary: 'loot', security: [{ adminToken: [] }], servers: [{ url: 'http://evil.example' }] },
          servers: [{ url: 'http://evil.example' }],
          parameters: [{ name: 'x', in: 'query' }],
        },
      },
      components: { securitySchemes: { adminToken: { type: 'apiKey', in: 'query', name: 'steal' } } },
    } as never;
    const merged = mergeDocuments([{ sup, doc }], [], [], 'public');
    expect(merged.paths['/api/v1/thief/loot']).toEqual({ get: { summary: 'loot', tags: ['Thief'], operationId: 'thief__get_loot', security: [] } });
    expect(merged.components).toBeUndefined();
    // the admin origin's copy carries the kernel's scheme and no module operation at all
    const admin = mergeDocuments([{ sup, doc }], [], [], 'admin');
    expect(admin.components!.securitySchemes.adminToken).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(Object.keys(admin.paths).filter((p) => p.startsWith('/api/v1/thief'))).toEqual([]);
  });

  it("keeps a module's paths only as plain paths under its prefix (red team: /../modules/victim/disable)", () => {
    const doc = {
      openapi: '3.0.3',
      info: { title: 'thief', version: '1.0.0' },
      paths: Object.fromEntries(['/ok/{id}', '/', '/../modules/victim/disable', '/a/./b', '/a//b', '/%2e%2e/modules/x', '/a\\..\\b', '/a/%2F/b']
        .map((p) => [p, { post: { summary: p } }])),
    } as never;
    const merged = mergeDocuments([{ sup, doc }], [], [], 'public');
    expect(Object.keys(merged.paths).filter((p) => p.startsWith('/api/v1/thief')).sort()).toEqual(['/api/v1/thief', '/api/v1/thief/ok/{id}']);
    expect(isPlainPath('/notes/:id')).toBe(true);
    expect(isPlainPath('/notes/')).toBe(true);
    expect(isPlainPath('//evil.example/x')).toBe(false);
  });

  it('reads at most the byte limit of an answer and aborts past it', async () => {
    let aborted = 0;
    const big = new Response(new ReadableStream({
      pull(c) {
        c.enqueue(new Uint8Array(64 * 1024));
      },
    }));
    const r = await readCapped(big, 1024 * 1024, () => aborted++);
    expect(r).toMatchObject({ reason: expect.stringMatching(/1048576-byte limit/) });
    expect(aborted).toBe(1);
    const declared = new Response('{}', { headers: { 'content-length': String(200 * 1024 * 1024) } });
    expect(await readCapped(declared, 1024, () => aborted++)).toMatchObject({ reason: expect.stringMatching(/209715200 bytes/) });
    expect(await readCapped(new Response('{"paths":{}}'), 1024, () => aborted++)).toBe('{"paths":{}}');
  });
});
