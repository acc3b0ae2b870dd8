// GET /api/docs/openapi.json: one OpenAPI 3.0 document merged from every running module,
// and GET /api/docs: Swagger UI over it, served from the swagger-ui-dist package (no CDN).
// Each child describes its own routes (shared/runtime/openapi.ts) on its loopback port (a
// remote module at its URL); the kernel asks once per process and keeps the answer until it changes,
// so a module that is down drops out and comes back with its next child.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import express, { type Express, type Request, type Response } from 'express';
import { HUB_VERSION, HUB_ROOT } from '../shared/paths.js';
import { OPENAPI_CHILD_PATH, type ChildOpenApi } from '../shared/runtime/openapi.js';
import { securityHeaders } from './dashboard-security.js';
import { RemoteModuleSupervisor } from './remote-supervisor.js';
import type { ModuleSupervisor } from './supervisor.js';
import { kernelPaths, kernelSecuritySchemes, kernelTag } from './openapi-kernel.js';

export interface DocsSource {
  supervisors(): ModuleSupervisor[];
  onChange(fn: (sup: ModuleSupervisor) => void): () => void;
}

export interface MergedOpenApi {
  openapi: '3.0.3';
  info: { title: string; version: string; description: string };
  tags: { name: string; description?: string }[];
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components: { securitySchemes: Record<string, unknown> };
}

const FETCH_TIMEOUT_MS = 2_000;

/** The module's tags for its operations; a module without tags is grouped under its name. */
export function moduleTags(sup: ModuleSupervisor): string[] {
  const tags = sup.entry.manifest?.tags ?? [];
  return tags.length > 0 ? tags : [sup.name];
}

function prefixed(apiPrefix: string, path: string): string {
  const base = apiPrefix.endsWith('/') ? apiPrefix.slice(0, -1) : apiPrefix;
  return path === '/' ? base : base + path;
}

const plainText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const slug = (s: string) => s.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '');

/** Merges the documents of running modules; pure, so tests and the route share it. */
export function mergeDocuments(parts: { sup: ModuleSupervisor; doc: ChildOpenApi }[], missing: string[]): MergedOpenApi {
  const tags = new Map<string, { name: string; description?: string }>();
  const paths: MergedOpenApi['paths'] = {};
  for (const { sup, doc } of parts) {
    const m = sup.entry.manifest!;
    const opTags = moduleTags(sup);
    for (const t of opTags) {
      // Swagger UI reads tag descriptions as Markdown; a manifest's description is plain text
      if (!tags.has(t)) tags.set(t, { name: t, ...(m.description ? { description: plainText(m.description) } : {}) });
    }
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      const full = prefixed(m.api_prefix, path);
      const target = (paths[full] ??= {});
      for (const [method, op] of Object.entries(item ?? {})) {
        if (!op || typeof op !== 'object') continue;
        // operationIds must be unique across the whole document: qualify them with the module
        const own = typeof op.operationId === 'string' ? op.operationId : `${method}_${slug(path) || 'root'}`;
        target[method] = { ...op, tags: opTags, operationId: `${sup.name}__${slug(own)}` };
      }
    }
  }
  const lines = ['Every running module of this hub, grouped by the tags in its module.json, and the hub kernel\'s own routes.'];
  if (missing.length > 0) lines.push(`Not in this document because they are not running: ${missing.join(', ')}.`);
  return {
    openapi: '3.0.3',
    info: { title: 'BMC Hub API', version: HUB_VERSION, description: lines.join('\n\n') },
    tags: [...tags.values(), kernelTag],
    paths: { ...paths, ...kernelPaths },
    components: { securitySchemes: kernelSecuritySchemes },
  };
}

function isChildDoc(v: unknown): v is ChildOpenApi {
  return typeof v === 'object' && v !== null && typeof (v as ChildOpenApi).paths === 'object' && (v as ChildOpenApi).paths !== null;
}

export class OpenApiCollector {
  /** One document per module, valid while that module's child keeps the same pid. */
  private readonly cache = new Map<string, { pid: number; doc: Promise<ChildOpenApi | null> }>();

  constructor(private readonly source: DocsSource) {
    // Prefetch when a module (re)starts, so the first reader of the docs does not wait for it.
    source.onChange((sup) => {
      if (sup.state === 'running') void this.documentOf(sup);
      else this.cache.delete(sup.name);
    });
  }

  /** Where the module's process serves its document, and which process that is (0: a remote one). */
  private static origin(sup: ModuleSupervisor): { url: string; pid: number } | null {
    if (sup.state !== 'running') return null;
    if (sup instanceof RemoteModuleSupervisor) return { url: sup.url.replace(/\/+$/, ''), pid: 0 };
    const child = sup.child;
    return child && child.port !== null ? { url: `http://127.0.0.1:${child.port}`, pid: child.pid } : null;
  }

  private documentOf(sup: ModuleSupervisor): Promise<ChildOpenApi | null> {
    const origin = OpenApiCollector.origin(sup);
    if (!origin) return Promise.resolve(null);
    const hit = this.cache.get(sup.name);
    if (hit && hit.pid === origin.pid) return hit.doc;
    const doc = fetch(`${origin.url}${OPENAPI_CHILD_PATH}`, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) })
      .then(async (r) => {
        const body: unknown = r.ok ? await r.json() : null;
        return isChildDoc(body) ? body : null;
      })
      .catch(() => null);
    const entry = { pid: origin.pid, doc };
    this.cache.set(sup.name, entry);
    // a failed read is not cached: the next reader tries again
    void doc.then((d) => {
      if (d === null && this.cache.get(sup.name) === entry) this.cache.delete(sup.name);
    });
    return doc;
  }

  async merged(): Promise<MergedOpenApi> {
    const sups = this.source.supervisors().filter((s) => s.entry.manifest && !s.entry.error);
    const docs = await Promise.all(sups.map(async (sup) => ({ sup, doc: await this.documentOf(sup) })));
    const parts = docs.filter((d): d is { sup: ModuleSupervisor; doc: ChildOpenApi } => d.doc !== null);
    const missing = docs.filter((d) => d.doc === null).map((d) => d.sup.name);
    return mergeDocuments(parts, missing);
  }
}

function swaggerUiDir(): string {
  const require = createRequire(import.meta.url);
  return (require('swagger-ui-dist/absolute-path.js') as () => string)();
}

// Swagger UI sets style attributes and shows data: images; scripts still come from us only.
const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export function mountDocs(app: Express, source: DocsSource): OpenApiCollector {
  const collector = new OpenApiCollector(source);
  const ui = express.static(swaggerUiDir(), { index: false, maxAge: '1h' });
  const publicDir = join(HUB_ROOT, 'kernel', 'public');

  app.get('/api/docs/openapi.json', async (_req: Request, res: Response) => {
    res.setHeader('cache-control', 'no-store');
    res.json(await collector.merged());
  });
  app.use('/api/docs/ui', ui);
  app.get('/api/docs/init.js', (_req: Request, res: Response) => res.sendFile(join(publicDir, 'docs-init.js')));
  app.get(['/api/docs', '/api/docs/'], (_req: Request, res: Response) => {
    securityHeaders(res, DOCS_CSP);
    res.sendFile(join(publicDir, 'docs.html'));
  });
  return collector;
}
