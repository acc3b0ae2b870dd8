// Builds ctx, a module's whole view of the hub, from the spec the kernel sent.
// What only some modules use is loaded on first use (issue 17): pg with the first query
// (./lazy-db.ts), ejs with the first render (./templates.ts), piscina with the first task
// (./tasks.ts). ctx keeps the shape DESIGN.md gives it; every one of these is async already.
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { ModuleContext, ModuleDb } from '../module-api.js';
import type { ModuleSpec } from '../ipc.js';
import { HubError, ModuleError } from '../errors.js';
import { lazyModuleDb } from './lazy-db.js';
import { renderTemplate } from './templates.js';
import { createModuleConfig } from './config.js';
import { createSafety } from './safety.js';
import { createTaskPool, type TaskPool } from './tasks.js';
import { createApiDocs } from './openapi.js';
import { moduleAuth } from './auth.js';
import { sendHubPage } from './hub-layout.js';

/** The hub's name in the layout's header and page titles. */
const HUB_NAME = 'BMC Hub';

export interface RuntimeContext {
  ctx: ModuleContext;
  tasks: TaskPool;
  db: ModuleDb | null;
}

function noDatabase(name: string): ModuleDb {
  const fail = async (): Promise<never> => {
    throw new HubError('database_unavailable', `module ${name} has no database connection`);
  };
  return { query: fail, one: fail, insert: fail, transaction: fail, close: async () => undefined } as unknown as ModuleDb;
}

export function createContext(spec: ModuleSpec, log: Logger): RuntimeContext {
  const config = createModuleConfig(spec.config);
  const db = spec.db ? lazyModuleDb(spec.db, { max: config.number('DB_POOL_SIZE', 5) }) : null;
  const tasks = createTaskPool(spec.buildDir, spec.manifest.workers ?? 2, { log });
  const templates = join(spec.moduleDir, 'templates');
  const ctx: ModuleContext = {
    name: spec.name,
    version: spec.manifest.version,
    manifest: spec.manifest,
    config,
    safety: createSafety(spec.name, config, log),
    log,
    db: db ?? noDatabase(spec.name),
    tasks,
    error: (status, code, message, details) => new ModuleError(status, code, message, details),
    render(view, data = {}) {
      const file = [view, `${view}.ejs`, `${view}.html`].map((v) => join(templates, v)).find((f) => existsSync(f));
      if (!file || !file.startsWith(templates + '/')) {
        return Promise.reject(new HubError('not_found', `no template "${view}" in templates/`));
      }
      return renderTemplate(file, data);
    },
    async page(res, view, data = {}, options = {}) {
      const body = await ctx.render(view, data);
      await sendHubPage(res, { ...options, hubName: HUB_NAME, module: spec.name, adminPort: spec.hub?.adminPort, body });
    },
    docs: createApiDocs(),
    auth: moduleAuth,
  };
  return { ctx, tasks, db };
}
