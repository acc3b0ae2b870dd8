// What happens to a module before a child may run it: compile its sources, migrate its
// tables, and, per child, hand it fresh database credentials and its own config keys.
// In "uid" isolation the compiled (and staged) build is handed to the module's group, and
// the child is told which uid/gid to become.
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { ModuleSpec } from '../shared/ipc.js';
import { HUB_VERSION } from '../shared/paths.js';
import { moduleConfigFromEnv } from '../shared/runtime/config.js';
import { newKernelSecret } from '../shared/runtime/kernel-secret.js';
import type { KernelConfig } from './config.js';
import type { Database } from './database.js';
import { migrateModule } from './migrator.js';
import { compileModule } from './module-compiler.js';
import { issueRuntimeCredentials } from './module-roles.js';
import type { ModuleEntry } from './registry.js';
import type { Isolation } from './os-isolation.js';
import { sealBuild } from './os-isolation.js';
import { assertTested } from './tested-records.js';

export interface ModulePrep {
  /** `signal` cancels it (a disable or shutdown during the start): it then rejects at once. */
  prepare(entry: ModuleEntry, signal?: AbortSignal): Promise<void>;
  buildSpec(entry: ModuleEntry): Promise<ModuleSpec>;
  isolation(name: string): 'role' | 'shared' | 'none';
  /** The module's kernel secret (ModuleSpec.secret): random, one per module for this kernel's life. */
  secretOf(name: string): string;
}

/**
 * `adminPort`: the admin origin's listening port, read when a child's spec is built (after the
 * kernel listens), for the layout's dashboard link (ModuleSpec.hub).
 */
export function createModulePrep(config: KernelConfig, db: Database | null, log: Logger, wall: Isolation | null = null, adminPort: () => number | null = () => null): ModulePrep {
  const builds = new Map<string, string>();
  const isolation = new Map<string, 'role' | 'shared'>();
  // One per module, not per child: during a zero-downtime restart the old and the new child
  // are both served, and the proxy of each must carry the secret that child was given.
  const secrets = new Map<string, string>();
  const secretOf = (name: string) => {
    let s = secrets.get(name);
    if (!s) secrets.set(name, (s = newKernelSecret()));
    return s;
  };

  /** Compiles, and in uid isolation gives HUB_DATA_DIR/build/<name> to the module's group. */
  const compile = async (entry: ModuleEntry): Promise<string> => {
    const outdir = await compileModule(entry.name, entry.dir, config.dataDir);
    const runAs = wall?.runAs(entry.name);
    if (runAs) sealBuild(dirname(outdir), runAs.gid);
    return outdir;
  };

  return {
    async prepare(entry, signal) {
      const m = entry.manifest!;
      // HUB_REQUIRE_TESTED: every start (boot, API, dashboard, hubctl, hot reload, cluster) comes through here
      if (config.requireTested) await assertTested(config.dataDir, entry.name, entry.dir);
      builds.set(entry.name, await compile(entry));
      signal?.throwIfAborted();
      if (db) {
        await migrateModule(db, { name: entry.name, tablePrefix: m.table_prefix, dir: entry.dir }, { log, settings: config.migration, signal });
      }
    },
    async buildSpec(entry) {
      const m = entry.manifest!;
      let buildDir = builds.get(entry.name);
      if (!buildDir) {
        buildDir = await compile(entry);
        builds.set(entry.name, buildDir);
      }
      let connection: ModuleSpec['db'] = null;
      if (db) {
        const creds = await issueRuntimeCredentials(db, { name: entry.name, tablePrefix: m.table_prefix, dir: entry.dir });
        isolation.set(entry.name, creds.isolation);
        connection = creds.connection;
      }
      return {
        name: entry.name,
        manifest: m,
        moduleDir: buildDir, // the staged copy: templates and data files sit beside the compiled code
        buildDir,
        config: moduleConfigFromEnv(process.env, entry.name),
        db: connection,
        hubVersion: HUB_VERSION,
        logLevel: config.logLevel,
        secret: secretOf(entry.name),
        runAs: wall?.runAs(entry.name) ?? null,
        hub: { adminPort: adminPort() },
      };
    },
    isolation: (name) => isolation.get(name) ?? 'none',
    secretOf,
  };
}
