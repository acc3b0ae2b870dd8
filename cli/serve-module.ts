// `hubctl serve-module <name> --port P`: one module on its own, with the same runtime a
// forked child uses, configured by its environment instead of IPC. This is what runs a
// module in its own container; the kernel then proxies to it as a remote module.
import { closeInheritedFds } from '../kernel/inherited-fds.js';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { compileModule } from '../kernel/module-compiler.js';
import { HubError } from '../shared/errors.js';
import type { DbConnection, ModuleSpec } from '../shared/ipc.js';
import { createLogger } from '../shared/logger.js';
import { parseManifest } from '../shared/manifest.js';
import { assertModuleName } from '../shared/names.js';
import { HUB_VERSION } from '../shared/paths.js';
import { moduleConfigFromEnv } from '../shared/runtime/config.js';
import { serveModule } from '../shared/runtime/serve.js';

function connectionFrom(url: string | undefined): DbConnection | null {
  if (!url) return null;
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    database: decodeURIComponent(u.pathname.slice(1)),
    user: decodeURIComponent(u.username),
    password: u.password ? decodeURIComponent(u.password) : undefined,
  };
}

/** The shortest kernel secret serve-module accepts. */
const MIN_SECRET_CHARS = 16;

/**
 * The kernel secret for a module served on its own: HUB_MODULE_SECRET, else
 * MODULES__<NAME>__SECRET (the same variable the kernel reads for that remote module).
 * Without one the module would answer anybody, so serve-module refuses to start.
 */
export function secretFromEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const key = `MODULES__${name.toUpperCase()}__SECRET`;
  const secret = env.HUB_MODULE_SECRET || env[key] || '';
  if (!secret) {
    throw new HubError('bad_request', `no kernel secret: set ${key} (or HUB_MODULE_SECRET) to a random value, and the same ${key} for the kernel that proxies to this module`);
  }
  // the only thing between the module and anyone who reaches its port: a placeholder such as
  // the k8s example's CHANGE-ME-TOO must not start it
  if (secret.trim().length < MIN_SECRET_CHARS) {
    throw new HubError('bad_request', `${env.HUB_MODULE_SECRET ? 'HUB_MODULE_SECRET' : key} is ${secret.trim().length} characters, short enough to guess: use at least ${MIN_SECRET_CHARS} random ones (openssl rand -hex 32), the same for the kernel`);
  }
  return secret;
}

/** Builds the spec a kernel would send, from HUB_MODULES_DIR, HUB_DATA_DIR and MODULES__<NAME>__*. */
export async function specFromEnv(rawName: string, env: NodeJS.ProcessEnv = process.env): Promise<ModuleSpec> {
  const name = assertModuleName(rawName);
  const modulesDir = resolve(env.HUB_MODULES_DIR || './modules');
  const dataDir = resolve(env.HUB_DATA_DIR || './.hub');
  const moduleDir = join(modulesDir, name);
  const where = `${moduleDir}/module.json`;
  const text = await readFile(join(moduleDir, 'module.json'), 'utf8').catch(() => {
    throw new HubError('module_not_found', `no module "${name}" in ${modulesDir} (set HUB_MODULES_DIR)`);
  });
  const { manifest } = parseManifest(text, where, name);
  const config = moduleConfigFromEnv(env, name);
  const secret = secretFromEnv(name, env);
  delete config.SECRET; // module code has no use for it
  return {
    name,
    manifest,
    moduleDir,
    buildDir: await compileModule(name, moduleDir, dataDir),
    config,
    // the module's own credentials: a runtime role for its tables, given by the operator
    db: connectionFrom(config.DATABASE_URL),
    hubVersion: HUB_VERSION,
    logLevel: env.LOG_LEVEL || 'info',
    secret,
  };
}

export async function serveModuleFromEnv(name: string, opts: { port: number; host: string; drainMs?: number }): Promise<void> {
  // like the kernel (kernel/inherited-fds.ts): what the launcher left open is not the module's
  closeInheritedFds();
  const spec = await specFromEnv(name);
  const log = createLogger({ module: spec.name, level: spec.logLevel });
  const serving = await serveModule(spec, log, { host: opts.host, port: opts.port });
  log.info(`✅ Module ${spec.name} v${spec.manifest.version} serving on http://${opts.host}:${serving.port}${spec.manifest.api_prefix}`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: draining`);
    await serving.drain(opts.drainMs ?? 10_000);
    log.info('👋 Stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
