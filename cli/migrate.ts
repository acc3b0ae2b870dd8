// `hubctl migrate [<name>] [--down N] [--dry-run]` and `hubctl migrate status`: straight to the
// database, not through the hub, so it works with the hub stopped. The database is
// DATABASE_URL, or the hub's embedded server under HUB_DATA_DIR while the hub runs it.
import { isHubError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { HUB_VERSION } from '../shared/paths.js';
import { openDatabase, type Database } from '../kernel/database.js';
import {
  KERNEL_MODULE, KERNEL_TARGET, migrateKernel, migrateModule, migrationStatus, revertModule, type MigrationTarget,
} from '../kernel/migrator.js';
import { scanModules, type ModuleEntry } from '../kernel/registry.js';
import { migrationSettings } from '../kernel/config.js';
import { dataDir as hubDataDir, modulesDir as hubModulesDir } from './env.js';
import { CliError, EXIT } from './errors.js';
import { hubDatabaseUrl } from './database-url.js';
import { pc, table } from './format.js';
import { checkName } from './module-commands.js';

export interface MigrateOptions {
  down?: number;
  dryRun?: boolean;
  json?: boolean;
  /** Adopt prefixed objects whoever owns them (needs a module name). */
  adopt?: boolean;
}

async function connect(): Promise<Database> {
  const log = createLogger({ level: 'silent' });
  const dataDir = hubDataDir();
  const url = hubDatabaseUrl();
  try {
    return await openDatabase({ databaseUrl: url, dataDir, log, connectTimeoutMs: 5_000 });
  } catch (e) {
    const msg = (e as Error).message.replace(/; start that server.*$/, '');
    throw new CliError(`${msg}, check DATABASE_URL or start the hub`, EXIT.unreachable);
  }
}

function target(e: ModuleEntry): MigrationTarget {
  return { name: e.name, tablePrefix: e.manifest!.table_prefix, dir: e.dir };
}

async function targets(name: string | undefined): Promise<MigrationTarget[]> {
  const dir = hubModulesDir();
  const entries = await scanModules(dir, HUB_VERSION);
  if (name === undefined) {
    // what the hub does at start: its own tables, then every enabled module that may start
    return entries.filter((e) => e.manifest?.enabled && !e.error).map(target);
  }
  const e = entries.find((x) => x.name === name);
  if (!e) throw new CliError(`no module named "${name}" in ${dir}, see hubctl status`, EXIT.notFound);
  if (!e.manifest) throw new CliError(e.error?.message ?? `${name} has no usable module.json`);
  return [target(e)];
}

async function withDb<T>(fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await connect();
  try {
    return await fn(db);
  } catch (e) {
    if (isHubError(e)) throw new CliError(e.message, ['migration_locked', 'migration_order', 'migration_adopt'].includes(e.code) ? EXIT.conflict : EXIT.error, e.code);
    throw e;
  } finally {
    await db.close();
  }
}

export async function migrate(rawName: string | undefined, opts: MigrateOptions): Promise<void> {
  if (rawName === 'status') return migrateStatus(opts);
  const name = rawName === undefined ? undefined : checkName(rawName);
  if (opts.down !== undefined && name === undefined) {
    throw new CliError('--down needs a module: hubctl migrate <name> --down N', EXIT.usage);
  }
  if (opts.adopt && name === undefined) {
    throw new CliError('--adopt needs a module: hubctl migrate <name> --adopt', EXIT.usage);
  }
  const mods = await targets(name);
  const out = (s: string) => process.stdout.write(s + '\n');
  const dry = opts.dryRun ? pc.yellow(' (dry run: nothing changed)') : '';
  await withDb(async (db) => {
    const results: unknown[] = [];
    if (name === undefined) {
      const k = await migrateKernel(db, { dryRun: opts.dryRun, settings: migrationSettings() });
      results.push(k);
      if (!opts.json) report(out, 'hub', opts.dryRun ? k.pending.map((p) => p.file) : k.applied.map((a) => a.file), opts.dryRun);
    }
    for (const mod of mods) {
      if (opts.down !== undefined) {
        const r = await revertModule(db, mod, opts.down, { dryRun: opts.dryRun, settings: migrationSettings() });
        results.push(r);
        if (opts.json) continue;
        const files = opts.dryRun ? r.plan.map((p) => p.file) : r.reverted.map((x) => x.file);
        out(files.length ? `${pc.green('✔')} ${mod.name}: ${opts.dryRun ? 'would revert' : 'reverted'} ${files.join(', ')}${dry}` : `${mod.name}: nothing to revert`);
        if (opts.dryRun) for (const p of r.plan) out(pc.dim(p.sql.trim().split('\n').map((l) => `    ${l}`).join('\n')));
      } else {
        const r = await migrateModule(db, mod, { dryRun: opts.dryRun, adopt: opts.adopt, settings: migrationSettings() });
        results.push(r);
        if (!opts.json) report(out, mod.name, opts.dryRun ? r.pending.map((p) => p.file) : r.applied.map((a) => a.file), opts.dryRun);
      }
    }
    if (opts.json) out(JSON.stringify(results, null, 2));
  });
}

function report(out: (s: string) => void, who: string, files: string[], dryRun: boolean | undefined): void {
  if (files.length === 0) out(`${who}: up to date`);
  else out(`${pc.green('✔')} ${who}: ${dryRun ? 'would apply' : 'applied'} ${files.join(', ')}${dryRun ? pc.yellow(' (dry run: nothing changed)') : ''}`);
}

async function migrateStatus(opts: MigrateOptions): Promise<void> {
  const entries = await scanModules(hubModulesDir(), HUB_VERSION);
  const mods = [KERNEL_TARGET, ...entries.filter((e) => e.manifest).map(target)];
  const status = await withDb((db) => migrationStatus(db, mods));
  if (opts.json) {
    process.stdout.write(JSON.stringify(status, null, 2) + '\n');
    return;
  }
  const rows = status.map((s) => {
    const last = s.applied[s.applied.length - 1];
    const changed = s.applied.filter((a) => a.changed).map((a) => a.file ?? String(a.version));
    return [
      s.module === KERNEL_MODULE ? 'hub' : s.module,
      String(s.applied.length),
      s.pending.length ? pc.yellow(s.pending.map((p) => p.file).join(', ')) : pc.dim('-'),
      last ? `${last.version} ${last.name}` : pc.dim('-'),
      changed.length ? pc.red(`changed after apply: ${changed.join(', ')}`) : '',
    ];
  });
  process.stdout.write(table(['MODULE', 'APPLIED', 'PENDING', 'LAST', ''], rows) + '\n');
}
