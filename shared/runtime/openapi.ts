// The child's half of the API docs: an OpenAPI 3 document of the module's backend routes,
// read from the express router itself (so it cannot drift from what is served) and
// enriched with whatever the module said through ctx.docs(method, path, doc).
// Paths are relative to the module's router; the kernel puts them under api_prefix.
import type { Router } from 'express';
import type { ApiDocs, RouteDoc } from '../module-api.js';

/** Served on the child's own port only; the gateway never routes `/_hub` to a child. */
export const OPENAPI_CHILD_PATH = '/_hub/openapi.json';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
type Method = (typeof METHODS)[number];

export interface ChildOpenApi {
  openapi: string;
  info: { title: string; version: string; description?: string };
  paths: Record<string, Partial<Record<Method, Record<string, unknown>>>>;
}

const store = new WeakMap<ApiDocs, Map<string, RouteDoc>>();
const key = (method: string, path: string) => `${method.toLowerCase()} ${toOpenApiPath(path)}`;

/** The `ctx.docs` function of one module; what it records is read back by openApiDocument. */
export function createApiDocs(): ApiDocs {
  const docs = new Map<string, RouteDoc>();
  const describe: ApiDocs = (method, path, doc) => {
    const m = String(method).toLowerCase();
    if (!(METHODS as readonly string[]).includes(m)) throw new TypeError(`ctx.docs: unknown HTTP method ${JSON.stringify(method)}`);
    if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError(`ctx.docs: path must start with "/", got ${JSON.stringify(path)}`);
    docs.set(key(m, path), { ...docs.get(key(m, path)), ...doc });
  };
  store.set(describe, docs);
  return describe;
}

/**
 * express 5 path syntax → OpenAPI: `:id` and `*rest` become `{id}` and `{rest}`.
 * Optional groups (`/a{/:b}`) are expanded by routePaths before this is called.
 */
export function toOpenApiPath(path: string): string {
  const p = path
    .replace(/[:*]"([^"]+)"/g, '{$1}')
    .replace(/[:*]([A-Za-z_$][\w$]*)/g, '{$1}')
    .replace(/\\(.)/g, '$1');
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

/** Every concrete path an express 5 path can match: `/a{/:b}` → `/a`, `/a/:b`. */
function expandOptional(path: string): string[] {
  const m = /\{([^{}]*)\}/.exec(path);
  if (!m) return [path];
  const before = path.slice(0, m.index);
  const after = path.slice(m.index + m[0].length);
  return [...expandOptional(before + after), ...expandOptional(before + m[1] + after)];
}

interface Layer {
  route?: { path: unknown; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  rawPath?: unknown;
}

interface FoundRoute {
  method: Method;
  path: string;
}

function joinPath(prefix: string, path: string): string {
  const p = (prefix.endsWith('/') ? prefix.slice(0, -1) : prefix) + (path === '/' ? '' : path);
  return p === '' ? '/' : p;
}

/** Walks a router's stack, into nested routers; RegExp paths cannot be documented and are skipped. */
export function collectRoutes(router: { stack?: unknown[] }, prefix = ''): FoundRoute[] {
  const found: FoundRoute[] = [];
  for (const layer of (router.stack ?? []) as Layer[]) {
    if (layer.route) {
      const paths = ([] as unknown[]).concat(layer.route.path).filter((p): p is string => typeof p === 'string');
      const methods = Object.keys(layer.route.methods).filter((m): m is Method => (METHODS as readonly string[]).includes(m));
      for (const raw of paths) {
        for (const path of expandOptional(raw)) {
          for (const method of methods) found.push({ method, path: toOpenApiPath(joinPath(prefix, path)) });
        }
      }
    } else if (layer.handle?.stack) {
      // a router mounted with router.use('/sub', other); plain middleware has no stack
      const mounts = ([] as unknown[]).concat(layer.rawPath ?? '/').filter((p): p is string => typeof p === 'string');
      for (const mount of mounts) found.push(...collectRoutes(layer.handle, joinPath(prefix, mount)));
    }
  }
  return found;
}

function pathParams(path: string): string[] {
  return [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
}

type Parameter = { name?: unknown; in?: unknown } & Record<string, unknown>;

function operation(method: Method, path: string, doc: RouteDoc | undefined): Record<string, unknown> {
  const given = (doc?.parameters ?? []) as Parameter[];
  const isGiven = (name: string) => given.some((p) => p.in === 'path' && p.name === name);
  // every {param} in the path must be declared for the document to be valid
  const derived = pathParams(path)
    .filter((name) => !isGiven(name))
    .map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
  const op: Record<string, unknown> = {
    ...(doc?.summary ? { summary: doc.summary } : {}),
    ...(doc?.description ? { description: doc.description } : {}),
    ...(doc?.operationId ? { operationId: doc.operationId } : {}),
    ...(doc?.deprecated ? { deprecated: true } : {}),
  };
  const parameters = [...derived, ...given];
  if (parameters.length > 0) op.parameters = parameters;
  if (doc?.requestBody) op.requestBody = doc.requestBody;
  op.responses = doc?.responses && Object.keys(doc.responses).length > 0 ? doc.responses : { default: { description: 'Response' } };
  return op;
}

const HEALTH_DOC: RouteDoc = {
  summary: 'Module health',
  description: 'Provided by the hub runtime for every module.',
  responses: {
    '200': {
      description: 'The module process is up',
      content: {
        'application/json': {
          schema: {
            type: 'object',
            properties: {
              status: { type: 'string', example: 'ok' },
              module: { type: 'string' },
              version: { type: 'string' },
              uptime_ms: { type: 'integer' },
              pid: { type: 'integer' },
            },
          },
        },
      },
    },
  },
};

/** The module's document: routes found in the router, plus annotated ones the router walk cannot see. */
export function openApiDocument(
  module: { name: string; version: string; description?: string },
  router: Router | null,
  docs: ApiDocs,
): ChildOpenApi {
  const annotations = store.get(docs) ?? new Map<string, RouteDoc>();
  const paths: ChildOpenApi['paths'] = {};
  const add = (method: Method, path: string, doc: RouteDoc | undefined) => {
    const item = (paths[path] ??= {});
    // HEAD is implied by GET in express; listing it twice only clutters the docs
    if (item[method]) return;
    item[method] = operation(method, path, doc);
  };
  add('get', '/health', annotations.get(key('get', '/health')) ?? HEALTH_DOC);
  for (const r of router ? collectRoutes(router as unknown as { stack?: unknown[] }) : []) add(r.method, r.path, annotations.get(key(r.method, r.path)));
  for (const [k, doc] of annotations) {
    const space = k.indexOf(' ');
    add(k.slice(0, space) as Method, k.slice(space + 1), doc);
  }
  return {
    openapi: '3.0.3',
    info: { title: module.name, version: module.version, ...(module.description ? { description: module.description } : {}) },
    paths,
  };
}
