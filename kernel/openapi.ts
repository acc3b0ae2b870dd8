// GET /api/docs/openapi.json: one OpenAPI 3.0 document merged from every running module,
// and GET /api/docs: Swagger UI over it, served from the swagger-ui-dist package (no CDN).
// Each child describes its own routes (shared/runtime/openapi.ts) on its loopback port (a
// remote module at its URL); the kernel asks once per process and keeps the answer until it changes,
// so a module that is down drops out and comes back with its next child.
// A module's document is data from an untrusted process: it is read with the kernel secret,
// as a stream cut off at MAX_MODULE_DOCS_BYTES (2 MB), and only its operations are kept —
// minus any `security` or `servers` the module wrote: security on module operations is the
// kernel's to set (none: Swagger UI never sends the admin token to a module). A redirect is
// refused, never followed.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import express, { type Express, type Request, type Response } from 'express';
import { HUB_VERSION, HUB_ROOT } from '../shared/paths.js';
import type { Logger } from 'pino';
import { KERNEL_SECRET_HEADER } from '../shared/runtime/kernel-secret.js';
import { OPENAPI_CHILD_PATH, type ChildOpenApi } from '../shared/runtime/openapi.js';
import { securityHeaders } from './dashboard-security.js';
import { RemoteModuleSupervisor } from './remote-supervisor.js';
import type { ModuleSupervisor } from './supervisor.js';
import { kernelPaths, kernelSecuritySchemes, kernelTag, publicKernelPaths } from './openapi-kernel.js';
import type { Origin } from './admin-auth.js';
import { takesTraffic } from '../shared/module-states.js';

export interface DocsSource {
  supervisors(): ModuleSupervisor[];
  onChange(fn: (sup: ModuleSupervisor) => void): () => void;
  /** The secret the module's process expects from its kernel (shared/runtime/kernel-secret.ts). */
  secretOf(name: string): string;
  readonly log?: Logger;
}

export interface MergedOpenApi {
  openapi: '3.0.3';
  info: { title: string; version: string; description: string };
  tags: { name: string; description?: string }[];
  paths: Record<string, Record<string, Record<string, unknown>>>;
  /** The admin origin's copy only: Swagger UI shows an Authorize box for any securitySchemes, even `{}`. */
  components?: { securitySchemes: Record<string, unknown> };
}

const FETCH_TIMEOUT_MS = 2_000;
/** Largest API document the kernel reads from one module, in bytes (2 MB); larger is left out. */
export const MAX_MODULE_DOCS_BYTES = 2 * 1024 * 1024;
const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/** Why a module's document is not in the merged one, when it answered but was refused. */
class DocsRefused {
  constructor(readonly reason: string) {}
}

/**
 * Reads a response body as UTF-8 text, at most `limit` bytes: past it the request is
 * aborted (`abort`) and a DocsRefused is returned, so a hostile module costs the kernel
 * at most `limit` bytes of memory and never a 100 MB parse.
 */
export async function readCapped(res: globalThis.Response, limit: number, abort: () => void): Promise<string | DocsRefused> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > limit) {
    abort();
    return new DocsRefused(`API docs of ${declared} bytes are over the ${limit}-byte limit`);
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      abort();
      await reader.cancel().catch(() => undefined);
      return new DocsRefused(`API docs over the ${limit}-byte limit`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The module's tags for its operations; a module without tags is grouped under its name. */
export function moduleTags(sup: ModuleSupervisor): string[] {
  const tags = sup.entry.manifest?.tags ?? [];
  return tags.length > 0 ? tags : [sup.name];
}

/**
 * A module's documented path is kept only as a plain path under its own prefix: no `.` or `..`
 * segment, no empty segment but a trailing one, no backslash and no percent-escape of `.`, `/` or `\` — a browser
 * would resolve `/api/v1/x/../modules/y/disable` to a kernel route, and "Try it out" would call it.
 */
export function isPlainPath(path: string): boolean {
  if (!path.startsWith('/') || path.includes('\\') || /%(2e|2f|5c)/i.test(path)) return false;
  const segments = path.slice(1).split('/');
  return segments.every((s, i) => (s !== '' || i === segments.length - 1) && s !== '.' && s !== '..');
}

function prefixed(apiPrefix: string, path: string): string {
  const base = apiPrefix.endsWith('/') ? apiPrefix.slice(0, -1) : apiPrefix;
  return path === '/' ? base : base + path;
}

const plainText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const slug = (s: string) => s.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '');

/** Merges the documents of running modules; pure, so tests and the route share it. */
/**
 * The merged document for one origin: module operations (security [] always) plus the
 * kernel's own; only the admin origin's copy declares the admin bearer scheme.
 */
export function mergeDocuments(
  parts: { sup: ModuleSupervisor; doc: ChildOpenApi }[],
  missing: string[],
  refused: string[] = [],
  origin: Origin = 'admin',
): MergedOpenApi {
  const tags = new Map<string, { name: string; description?: string }>();
  const paths: MergedOpenApi['paths'] = {};
  // The admin origin's copy lists the kernel's routes only: its "Try it out" carries the admin
  // session, so no module may put an operation there (red team: a module documented a path
  // that a browser resolved to an admin route). Modules are documented on the public origin.
  for (const { sup, doc } of origin === 'admin' ? [] : parts) {
    const m = sup.entry.manifest!;
    const opTags = moduleTags(sup);
    for (const t of opTags) {
      // Swagger UI reads tag descriptions as Markdown; a manifest's description is plain text
      if (!tags.has(t)) tags.set(t, { name: t, ...(m.description ? { description: plainText(m.description) } : {}) });
    }
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      if (typeof path !== 'string' || !isPlainPath(path) || !item || typeof item !== 'object') continue;
      const full = prefixed(m.api_prefix, path);
      const target = (paths[full] ??= {});
      for (const [method, op] of Object.entries(item)) {
        if (!HTTP_METHODS.has(method) || !op || typeof op !== 'object' || Array.isArray(op)) continue;
        // operationIds must be unique across the whole document: qualify them with the module
        const own = typeof op.operationId === 'string' ? op.operationId : `${method}_${slug(path) || 'root'}`;
        // a module's own `security` (say, the kernel's adminToken scheme) would make Swagger UI
        // send the admin token to it, and `servers` could point "Try it out" anywhere
        const { security: _security, servers: _servers, ...rest } = op as Record<string, unknown>;
        target[method] = { ...rest, tags: opTags, operationId: `${sup.name}__${slug(own)}`, security: [] };
      }
    }
  }
  const lines = origin === 'admin'
    ? ['The hub kernel\'s own routes. The modules\' APIs are documented on the public origin (HUB_PORT, /api/docs).']
    : ['Every running module of this hub, grouped by the tags in its module.json, and the hub kernel\'s own routes.'];
  if (missing.length > 0) lines.push(`Not in this document because they are not running: ${missing.join(', ')}.`);
  if (refused.length > 0) lines.push(`Left out (their API docs were refused): ${refused.join('; ')}.`);
  return {
    openapi: '3.0.3',
    info: { title: 'BMC Hub API', version: HUB_VERSION, description: lines.join('\n\n') },
    tags: [...tags.values(), kernelTag],
    paths: { ...paths, ...(origin === 'admin' ? kernelPaths : publicKernelPaths()) },
    // no `components` at all on the public copy: an empty securitySchemes still gave it an Authorize box
    ...(origin === 'admin' ? { components: { securitySchemes: kernelSecuritySchemes } } : {}),
  };
}

function isChildDoc(v: unknown): v is ChildOpenApi {
  return typeof v === 'object' && v !== null && typeof (v as ChildOpenApi).paths === 'object' && (v as ChildOpenApi).paths !== null;
}

export class OpenApiCollector {
  /** One document per module, valid while that module's child keeps the same pid. */
  private readonly cache = new Map<string, { pid: number; doc: Promise<ChildOpenApi | DocsRefused | null> }>();

  constructor(private readonly source: DocsSource) {
    // Prefetch when a module (re)starts, so the first reader of the docs does not wait for it.
    source.onChange((sup) => {
      if (takesTraffic(sup.state)) void this.documentOf(sup);
      else this.cache.delete(sup.name);
    });
  }

  /** Where the module's process serves its document, and which process that is (0: a remote one). */
  private static origin(sup: ModuleSupervisor): { url: string; pid: number } | null {
    if (!takesTraffic(sup.state)) return null;
    if (sup instanceof RemoteModuleSupervisor) return { url: sup.url.replace(/\/+$/, ''), pid: 0 };
    const child = sup.child;
    return child && child.port !== null ? { url: `http://127.0.0.1:${child.port}`, pid: child.pid } : null;
  }

  private documentOf(sup: ModuleSupervisor): Promise<ChildOpenApi | DocsRefused | null> {
    const origin = OpenApiCollector.origin(sup);
    if (!origin) return Promise.resolve(null);
    const hit = this.cache.get(sup.name);
    if (hit && hit.pid === origin.pid) return hit.doc;
    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(FETCH_TIMEOUT_MS)]);
    // redirect 'manual': a module's answer is data, never a place for the kernel to go next (a
    // followed redirect made the kernel fetch any URL, carrying the secret, and merge the answer)
    const doc = fetch(`${origin.url}${OPENAPI_CHILD_PATH}`, { signal, redirect: 'manual', headers: { [KERNEL_SECRET_HEADER]: this.source.secretOf(sup.name) } })
      .then(async (r) => {
        if (r.status >= 300 && r.status < 400) {
          await r.body?.cancel().catch(() => undefined);
          const refused = new DocsRefused(`answered ${r.status}, a redirect, which the kernel does not follow`);
          this.source.log?.warn({ module: sup.name }, `📚 API docs of ${sup.name} left out: ${refused.reason}`);
          return refused;
        }
        if (!r.ok) {
          await r.body?.cancel().catch(() => undefined);
          return null;
        }
        const text = await readCapped(r, MAX_MODULE_DOCS_BYTES, () => controller.abort());
        if (text instanceof DocsRefused) {
          this.source.log?.warn({ module: sup.name }, `📚 API docs of ${sup.name} left out: ${text.reason}`);
          return text;
        }
        const body: unknown = JSON.parse(text);
        return isChildDoc(body) ? body : null;
      })
      .catch((e: Error) => (e.name === 'TimeoutError' ? new DocsRefused(`no answer within ${FETCH_TIMEOUT_MS} ms`) : null));
    const entry = { pid: origin.pid, doc };
    this.cache.set(sup.name, entry);
    // a failed read is not cached: the next reader tries again (a refused one is, for this process)
    void doc.then((d) => {
      const transient = d === null || (d instanceof DocsRefused && d.reason.startsWith('no answer'));
      if (transient && this.cache.get(sup.name) === entry) this.cache.delete(sup.name);
    });
    return doc;
  }

  async merged(origin: Origin = 'public'): Promise<MergedOpenApi> {
    const sups = this.source.supervisors().filter((s) => s.entry.manifest && !s.entry.error);
    const docs = await Promise.all(sups.map(async (sup) => ({ sup, doc: await this.documentOf(sup) })));
    const parts = docs.filter((d): d is { sup: ModuleSupervisor; doc: ChildOpenApi } => d.doc !== null && !(d.doc instanceof DocsRefused));
    const missing = docs.filter((d) => d.doc === null).map((d) => d.sup.name);
    const refused = docs.flatMap((d) => (d.doc instanceof DocsRefused ? [`${d.sup.name} (${d.doc.reason})`] : []));
    return mergeDocuments(parts, missing, refused, origin);
  }
}

function swaggerUiDir(): string {
  const require = createRequire(import.meta.url);
  return (require('swagger-ui-dist/absolute-path.js') as () => string)();
}

// Swagger UI sets style attributes and shows data: images; scripts still come from us only.
const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * GET /api/docs, /api/docs/openapi.json and their assets on one origin's app. Both origins
 * share one collector (one fetch per module process); the admin origin's copy declares the
 * admin bearer scheme so its kernel operations can be tried there.
 */
export function mountDocs(app: Express, source: DocsSource, origin: Origin = 'public', shared?: OpenApiCollector): OpenApiCollector {
  const collector = shared ?? new OpenApiCollector(source);
  const ui = express.static(swaggerUiDir(), { index: false, maxAge: '1h' });
  const publicDir = join(HUB_ROOT, 'kernel', 'public');

  app.get('/api/docs/openapi.json', async (_req: Request, res: Response) => {
    res.setHeader('cache-control', 'no-store');
    res.json(await collector.merged(origin));
  });
  app.use('/api/docs/ui', ui);
  // the docs page's stylesheets and icon; the same files the admin origin serves
  app.use('/static', express.static(publicDir, { index: false, maxAge: '10m' }));
  app.get('/api/docs/init.js', (_req: Request, res: Response) => res.sendFile(join(publicDir, 'docs-init.js')));
  app.get(['/api/docs', '/api/docs/'], (_req: Request, res: Response) => {
    securityHeaders(res, DOCS_CSP);
    res.sendFile(join(publicDir, 'docs.html'));
  });
  return collector;
}
