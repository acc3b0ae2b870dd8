// Applies and reverts numbered SQL migrations, for the kernel itself (module "_kernel",
// folder migrations/ at the project root) and for every module, recording each file in
// hub_migrations. Each file runs in its own transaction together with its ledger row, so a
// file is either fully applied and recorded or not at all. All migrating kernels of one
// database take the same session advisory lock, and re-read the ledger after getting it:
// the second kernel finds the work done instead of redoing it.
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import type { PoolClient } from 'pg';
import { HubError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { HUB_ROOT } from '../shared/paths.js';
import type { Database } from './database.js';
import { findTransactionControl, lineOfPosition, readMigrationDir, type MigrationFile } from './migration-files.js';
import { ensureModuleRoles, HUB_LOCK_CLASS, quoteIdent, type ModuleRoleNames } from './module-roles.js';
import { assertPrefixSeal, snapshotCatalog } from './prefix-seal.js';

export const KERNEL_MODULE = '_kernel';
const MIGRATE_LOCK_KEY = 1;

export interface MigrationTarget {
  name: string;
  tablePrefix: string;
  /** The module's folder; its migrations are in <dir>/migrations. */
  dir: string;
}

export interface MigrateOptions {
  dryRun?: boolean;
  log?: Logger;
  /** How long to wait for another kernel's migration run before giving up (migration_locked). */
  lockTimeoutMs?: number;
}

export interface AppliedMigration { version: number; name: string; file: string; durationMs: number }
export interface PlannedMigration { version: number; name: string; file: string; sql: string }
export interface MigrateResult { module: string; applied: AppliedMigration[]; pending: PlannedMigration[] }
export interface RevertResult { module: string; reverted: AppliedMigration[]; plan: PlannedMigration[] }

export interface LedgerRow { version: number; name: string; checksum: string; appliedAt: Date; durationMs: number }
export interface ModuleMigrationStatus {
  module: string;
  applied: (LedgerRow & { file: string | null; changed: boolean })[];
  pending: { version: number; name: string; file: string }[];
}

/** The kernel's own migrations as a target, e.g. for migrationStatus. */
export const KERNEL_TARGET: MigrationTarget = { name: KERNEL_MODULE, tablePrefix: 'hub_', dir: HUB_ROOT };
const kernelMigrated = new WeakMap<Database, Promise<MigrateResult>>();

export function migrateKernel(db: Database, opts: MigrateOptions = {}): Promise<MigrateResult> {
  if (opts.dryRun) return run(db, KERNEL_TARGET, opts);
  let p = kernelMigrated.get(db);
  if (!p) {
    p = run(db, KERNEL_TARGET, opts);
    kernelMigrated.set(db, p);
    p.catch(() => kernelMigrated.delete(db));
  }
  return p;
}

export async function migrateModule(db: Database, mod: MigrationTarget, opts: MigrateOptions = {}): Promise<MigrateResult> {
  if (mod.name === KERNEL_MODULE) return migrateKernel(db, opts);
  // The ledger lives in the kernel's tables; make sure they exist (once per Database).
  if (!opts.dryRun || (await ledgerExists(db.pool))) await migrateKernel(db, { ...opts, dryRun: false });
  return run(db, mod, opts);
}

async function run(db: Database, mod: MigrationTarget, opts: MigrateOptions): Promise<MigrateResult> {
  const files = await readMigrationDir(join(mod.dir, 'migrations'));
  const log = opts.log ?? db.log;
  if (opts.dryRun) {
    const ledger = await readLedger(db.pool, mod.name);
    verifyChecksums(mod, files, ledger);
    const pending = files.filter((f) => !ledger.has(f.version)).map((f) => plan(f, f.up));
    for (const p of pending) log.info({ module: mod.name, file: p.file }, 'migrate (dry run): would apply');
    return { module: mod.name, applied: [], pending };
  }
  const roles = mod.name === KERNEL_MODULE ? null : await ensureModuleRoles(db, mod);
  return withMigrationLock(db, opts, async (client) => {
    const ledger = await readLedger(client, mod.name);
    verifyChecksums(mod, files, ledger);
    const applied: AppliedMigration[] = [];
    for (const f of files.filter((x) => !ledger.has(x.version))) {
      const durationMs = await runFile(client, mod, f, 'up', roles);
      applied.push({ version: f.version, name: f.name, file: f.file, durationMs });
      log.info({ module: mod.name, file: f.file, ms: durationMs }, 'migration applied');
    }
    return { module: mod.name, applied, pending: [] };
  });
}

/** Reverts the last `count` applied migrations, newest first, each in its own transaction. */
export async function revertModule(db: Database, mod: MigrationTarget, count: number, opts: MigrateOptions = {}): Promise<RevertResult> {
  const files = await readMigrationDir(join(mod.dir, 'migrations'));
  const log = opts.log ?? db.log;
  const planFor = (ledger: Map<number, LedgerRow>): { file: MigrationFile; down: string }[] => {
    const versions = [...ledger.keys()].sort((a, b) => b - a).slice(0, Math.max(0, count));
    verifyChecksums(mod, files, ledger);
    // Check every step before running any, so a missing down section cannot leave a half-done revert.
    return versions.map((v) => {
      const f = files.find((x) => x.version === v);
      const row = ledger.get(v)!;
      if (!f) throw new HubError('migration_missing_down', `${mod.name}/migrations: the file for applied migration ${v} (${row.name}) is gone, so it cannot be reverted`);
      if (f.down === null) throw new HubError('migration_missing_down', `${label(mod, f)} has no "-- migrate:down" section, so it cannot be reverted`);
      return { file: f, down: f.down };
    });
  };
  if (opts.dryRun) {
    const steps = planFor(await readLedger(db.pool, mod.name));
    for (const s of steps) log.info({ module: mod.name, file: s.file.file, sql: s.down }, 'migrate --down (dry run): would revert');
    return { module: mod.name, reverted: [], plan: steps.map((s) => plan(s.file, s.down)) };
  }
  const roles = mod.name === KERNEL_MODULE ? null : await ensureModuleRoles(db, mod);
  return withMigrationLock(db, opts, async (client) => {
    const steps = planFor(await readLedger(client, mod.name));
    const reverted: AppliedMigration[] = [];
    for (const s of steps) {
      const durationMs = await runFile(client, mod, s.file, 'down', roles);
      reverted.push({ version: s.file.version, name: s.file.name, file: s.file.file, durationMs });
      log.info({ module: mod.name, file: s.file.file, ms: durationMs }, 'migration reverted');
    }
    return { module: mod.name, reverted, plan: steps.map((s) => plan(s.file, s.down)) };
  });
}

export async function migrationStatus(db: Database, mods: MigrationTarget[]): Promise<ModuleMigrationStatus[]> {
  const out: ModuleMigrationStatus[] = [];
  for (const mod of mods) {
    const files = await readMigrationDir(join(mod.dir, 'migrations'));
    const ledger = await readLedger(db.pool, mod.name);
    const byVersion = new Map(files.map((f) => [f.version, f]));
    out.push({
      module: mod.name,
      applied: [...ledger.values()].sort((a, b) => a.version - b.version).map((row) => {
        const f = byVersion.get(row.version);
        return { ...row, file: f?.file ?? null, changed: f !== undefined && f.checksum !== row.checksum };
      }),
      pending: files.filter((f) => !ledger.has(f.version)).map((f) => ({ version: f.version, name: f.name, file: f.file })),
    });
  }
  return out;
}

// ---------------------------------------------------------------- internals

function label(mod: MigrationTarget, f: MigrationFile): string {
  return `${mod.name}/migrations/${f.file}`;
}

function plan(f: MigrationFile, sql: string): PlannedMigration {
  return { version: f.version, name: f.name, file: f.file, sql };
}

type Queryable = Pick<PoolClient, 'query'>;

async function ledgerExists(q: Queryable): Promise<boolean> {
  const r = await q.query<{ ok: boolean }>("SELECT to_regclass('public.hub_migrations') IS NOT NULL AS ok");
  return r.rows[0]!.ok;
}

async function readLedger(q: Queryable, moduleName: string): Promise<Map<number, LedgerRow>> {
  if (!(await ledgerExists(q))) return new Map();
  const r = await q.query<{ version: number; name: string; checksum: string; applied_at: Date; duration_ms: number }>(
    'SELECT version, name, checksum, applied_at, duration_ms FROM public.hub_migrations WHERE module = $1', [moduleName]);
  return new Map(r.rows.map((x) => [x.version, { version: x.version, name: x.name, checksum: x.checksum, appliedAt: x.applied_at, durationMs: x.duration_ms }]));
}

function verifyChecksums(mod: MigrationTarget, files: MigrationFile[], ledger: Map<number, LedgerRow>): void {
  for (const f of files) {
    const row = ledger.get(f.version);
    if (row && row.checksum !== f.checksum) {
      throw new HubError('migration_checksum',
        `${label(mod, f)} was changed after it was applied (ledger checksum ${row.checksum.slice(0, 12)}, file ${f.checksum.slice(0, 12)}); ` +
        'restore the applied version and put the change in a new migration file',
        { module: mod.name, file: f.file, version: f.version });
    }
  }
}

async function withMigrationLock<T>(db: Database, opts: MigrateOptions, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await db.pool.connect();
  let broken: Error | undefined;
  try {
    const timeoutMs = opts.lockTimeoutMs ?? 120_000;
    await client.query(`SET lock_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
    try {
      await client.query('SELECT pg_advisory_lock($1, $2)', [HUB_LOCK_CLASS, MIGRATE_LOCK_KEY]);
    } catch (e) {
      if ((e as { code?: string }).code === '55P03') {
        throw new HubError('migration_locked',
          `another kernel has held the migration lock of database "${db.connection.database}" for over ${Math.round(timeoutMs / 1000)} s; try again when it has finished`);
      }
      throw e;
    } finally {
      await client.query('RESET lock_timeout');
    }
    try {
      return await fn(client);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, $2)', [HUB_LOCK_CLASS, MIGRATE_LOCK_KEY]).catch((e: Error) => { broken = e; });
    }
  } finally {
    // Destroying a connection we could not unlock releases the lock server-side.
    client.release(broken);
  }
}

/** One file, one transaction: run as the module's owner role, check the prefix seal, record it. */
async function runFile(client: PoolClient, mod: MigrationTarget, f: MigrationFile, direction: 'up' | 'down',
  roles: ModuleRoleNames | null): Promise<number> {
  const sql = direction === 'up' ? f.up : f.down!;
  const where = label(mod, f);
  const startLine = direction === 'up' ? 1 : f.downStartLine;
  const tc = findTransactionControl(sql);
  if (tc) {
    throw new HubError('migration_failed',
      `${where}: ${tc.keyword} at line ${startLine + tc.line - 1}; each migration file already runs in its own transaction, remove its transaction statements`);
  }
  const sealed = mod.name !== KERNEL_MODULE;
  await client.query('BEGIN');
  try {
    if (roles) await client.query(`SET LOCAL ROLE ${quoteIdent(roles.owner)}`);
    const before = sealed ? await snapshotCatalog(client) : null;
    const t0 = performance.now();
    try {
      await client.query(sql);
    } catch (e) {
      throw sqlFailure(e, where, sql, startLine);
    }
    const durationMs = Math.round(performance.now() - t0);
    if (roles) {
      // A migration that switched roles would escape both the ownership model and the seal's premise.
      const who = await client.query<{ u: string }>('SELECT current_user AS u');
      if (who.rows[0]!.u !== roles.owner) {
        throw new HubError('migration_failed', `${where}: changes the session role (SET ROLE / RESET ROLE); migrations must run as the module's own role`);
      }
    }
    if (before) assertPrefixSeal(before, await snapshotCatalog(client), mod.tablePrefix, where);
    if (roles) await client.query('RESET ROLE');
    if (direction === 'up') {
      await client.query('INSERT INTO public.hub_migrations (module, version, name, checksum, duration_ms) VALUES ($1, $2, $3, $4, $5)',
        [mod.name, f.version, f.name, f.checksum, durationMs]);
    } else {
      await client.query('DELETE FROM public.hub_migrations WHERE module = $1 AND version = $2', [mod.name, f.version]);
    }
    await client.query('COMMIT');
    return durationMs;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    if (e instanceof HubError) throw e;
    throw new HubError('migration_failed', `${where}: ${(e as Error).message}`);
  }
}

function sqlFailure(e: unknown, where: string, sql: string, startLine: number): HubError {
  const err = e as { message?: string; position?: string; code?: string };
  const message = err.message ?? String(e);
  const position = err.position ? Number(err.position) : NaN;
  if (Number.isFinite(position) && position > 0) {
    const line = lineOfPosition(sql, position, startLine);
    return new HubError('migration_failed', `${where}: ${message} at line ${line}`, { file: where, line, sqlstate: err.code });
  }
  return new HubError('migration_failed', `${where}: ${message}`, { file: where, sqlstate: err.code });
}
