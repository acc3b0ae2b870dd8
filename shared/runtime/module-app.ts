// Builds one module's express app inside its child: the free health route, the
// module's router at api_prefix, its views at /<name>, EJS, and JSON errors. Before any
// of it, every request must carry the kernel secret (./kernel-secret.ts), else 403.
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ModuleContext, ModuleRoutes } from '../module-api.js';
import type { ModuleSpec } from '../ipc.js';
import { HubError, ModuleError, toHubError } from '../errors.js';
import { bodyLimitBytes } from '../body-limit.js';
import { kernelSecretCheck } from './kernel-secret.js';
import { requestBody } from './request-body.js';
import { identityMiddleware } from './auth.js';
import { OPENAPI_CHILD_PATH, openApiDocument } from './openapi.js';
import { takeStats } from './stats.js';
import { lazyViewEngine } from './templates.js';

const startedAt = Date.now();

async function loadRoutes(spec: ModuleSpec, relative: string): Promise<ModuleRoutes | null> {
  const file = join(spec.buildDir, `${relative}.js`);
  if (!existsSync(file)) return null;
  const mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  if (typeof mod.default !== 'function') {
    throw new HubError(
      'start_failed',
      `${relative}.ts must have a default export: a function (router, ctx) => void; found ${typeof mod.default}`,
    );
  }
  return mod.default as ModuleRoutes;
}

export async function buildModuleApp(spec: ModuleSpec, ctx: ModuleContext): Promise<Express> {
  const { manifest } = spec;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.set('views', join(spec.moduleDir, 'templates'));
  app.set('view engine', 'ejs');
  // ejs is loaded with the first view rendered, not at start (./templates.ts)
  app.engine('ejs', lazyViewEngine);
  app.engine('html', lazyViewEngine);

  // First of all routes, /_hub/* and the health route included: only the kernel may ask.
  const fromKernel = kernelSecretCheck(spec.secret);
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (fromKernel(req)) return next();
    res.status(403).json(new HubError('forbidden', `module ${spec.name} answers only its hub kernel`).toJSON());
  });
  // req.user: only what the kernel vouched for with this module's secret (DESIGN.md "Identity and permissions")
  app.use(identityMiddleware(spec.secret));

  app.use((req: Request, res: Response, next: NextFunction) => {
    const id = req.headers['x-request-id'];
    if (typeof id === 'string') res.setHeader('x-request-id', id);
    next();
  });

  app.get(`${manifest.api_prefix}/health`, (_req, res) => {
    res.json({ status: 'ok', module: spec.name, version: manifest.version, uptime_ms: Date.now() - startedAt, pid: process.pid });
  });

  // the kernel reads this for GET /api/docs; built per request so late ctx.docs calls count
  let apiRouter: express.Router | null = null;
  app.get(OPENAPI_CHILD_PATH, (_req, res) => {
    res.json(openApiDocument({ name: spec.name, version: manifest.version, description: manifest.description }, apiRouter, ctx.docs));
  });

  // memory, CPU and event-loop lag for a kernel that scrapes a remote module (a forked
  // child reports the same with its heartbeat instead); /_hub is never routed by the gateway
  app.get('/_hub/stats', (_req, res) => {
    res.json(takeStats());
  });

  const backend = await loadRoutes(spec, 'backend/router');
  if (backend) {
    const router = (apiRouter = express.Router());
    // exact bytes in req.rawBody, parsed req.body, the stream replayed (./request-body.ts)
    router.use(requestBody(spec.name, bodyLimitBytes(manifest)));
    await backend(router, ctx);
    app.use(manifest.api_prefix, router);
  }

  const views = await loadRoutes(spec, 'frontend/views');
  if (views) {
    const router = express.Router();
    router.use(requestBody(spec.name, bodyLimitBytes(manifest)));
    await views(router, ctx);
    app.use(`/${spec.name}`, router);
  }

  app.use((req: Request, res: Response) => {
    res.status(404).json(new HubError('not_found', `no route ${req.method} ${req.path} in module ${spec.name}`).toJSON());
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    // a module's own coded error (ctx.error) or a HubError: code, message and details as they are
    const e: HubError | ModuleError = err instanceof ModuleError ? err : toHubError(err);
    // body-parser errors carry their own 4xx status
    const status = e instanceof ModuleError ? e.status : typeof (err as { status?: unknown })?.status === 'number' ? (err as { status: number }).status : e.status;
    if (status >= 500) ctx.log.error({ err, method: req.method, url: req.originalUrl }, `💥 ${req.method} ${req.originalUrl} failed: ${e.message}`);
    if (res.headersSent) return void res.destroy();
    const code = e instanceof ModuleError ? e.code : status === 413 ? 'payload_too_large' : status < 500 && e.code === 'internal_error' ? 'bad_request' : e.code;
    res.status(status).json(e.details === undefined ? { error: code, message: e.message } : { error: code, message: e.message, details: e.details });
  });
  return app;
}
