// Applies and reverts numbered SQL migrations, for the kernel itself (module "_kernel",
// folder migrations/ at the project root) and for every module, recording each file in
// hub_migrations. Every pending file is read by PostgreSQL's own parser before any runs
// (migration-sql.ts). A module's files run on a connection that logs in as the module's owner
// role (module-roles.ts), never on the kernel's login; each file in its own transaction, sealed
// to the module's prefix (prefix-seal.ts) before it commits. Kernels of one database serialise
// per module on a hub_locks row (migration-lock.ts) and re-read the ledger after getting it:
// the second kernel finds the work done instead of redoing it, and a slow module holds up
// only itself.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import type pg from 'pg';
import type { PoolClient } from 'pg';
import { HubError, isHubError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { HUB_ROOT } from '../shared/paths.js';
import type { Database } from './database.js';
import { adoptPrefixed } from './migration-adopt.js';
import { lineOfPosition, readMigrationDir, type MigrationFile } from './migration-files.js';
import { dedicatedClient, endOrphans, KERNEL_LOCK, migrationAppName, withLock } from './migration-lock.js';
import { MIGRATION_DEFAULTS, type MigrationSettings } from './migration-settings.js';
import { assertNoTransactionStatements, namesDeclared, parseMigrationSql, type SqlStatement } from './migration-sql.js';
import { closeOwnerSession, ensureModuleRoles, grantToRuntime, openOwnerSession, registerOwner, type ModuleRoleNames } from './module-roles.js';
import { watchMigrationSession } from './migration-watchdog.js';
import { assertPrefixSeal, findOwnedOutsidePrefix, pinCatalogSearchPath, snapshotCatalog } from './prefix-seal.js';

export const KERNEL_MODULE = '_kernel';

export interface MigrationTarget {
  name: string;
  tablePrefix: string;
  /** The module's folder; its migrations are in <dir>/migrations. */
  dir: string;
}

export interface MigrateOptions {
  dryRun?: boolean;
  log?: Logger;
  /** How long to wait for another kernel's run of the same module before giving up (migration_locked); default HUB_MIGRATION_WAIT_MS. */
  lockTimeoutMs?: number;
  /** Hand every object carrying the module's prefix to its owner role, whoever owns it (hubctl migrate <name> --adopt). */
  adopt?: boolean;
  /** The kernel passes config.migration, hubctl migrationSettings() (kernel/config.ts); defaults to MIGRATION_DEFAULTS. */
  settings?: MigrationSettings;
  /**
   * Cancels the run (a disable or shutdown while the module starts): a wait for the lock ends,
   * and the migration session is ended, so its open file rolls back. Rejects with the signal's reason.
   */
  signal?: AbortSignal;
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
  const files = await readFiles(mod);
  const log = opts.log ?? db.log;
  const settings = opts.settings ?? MIGRATION_DEFAULTS;
  if (opts.dryRun) {
    const ledger = await readLedger(db.pool, mod.name);
    verifyChecksums(mod, files, ledger);
    const pending = files.filter((f) => !ledger.has(f.version));
    checkOrder(mod, files, ledger, pending, settings, log);
    for (const f of pending) await parseFile(mod, f, 'up');
    for (const p of pending) log.info({ module: mod.name, file: p.file }, 'migrate (dry run): would apply');
    return { module: mod.name, applied: [], pending: pending.map((f) => plan(f, f.up)) };
  }
  const roles = mod.name === KERNEL_MODULE ? null : await ensureModuleRoles(db, mod);
  return withModuleLock(db, mod, roles, opts, settings, async (worker) => {
    const ledger = await readLedger(db.pool, mod.name); // written only under this lock, which we hold
    verifyChecksums(mod, files, ledger);
    const pending = files.filter((x) => !ledger.has(x.version));
    checkOrder(mod, files, ledger, pending, settings, log);
    // Every pending file is parsed before the first one runs.
    const parsed = new Map<number, SqlStatement[]>();
    for (const f of pending) parsed.set(f.version, await parseFile(mod, f, 'up'));
    if (roles) await adoptForeign(db, mod, files, roles, opts, settings, log);
    // Checked at every start, not only when a file runs: what the owner role owns now must
    // carry the prefix, whoever made it and whenever.
    if (roles) await assertOwnedInsidePrefix(worker, mod, roles);
    const applied: AppliedMigration[] = [];
    for (const f of pending) {
      const durationMs = await runFile(db, worker, mod, f, 'up', roles, parsed.get(f.version)!);
      applied.push({ version: f.version, name: f.name, file: f.file, durationMs });
      log.info({ module: mod.name, file: f.file, ms: durationMs }, 'migration applied');
    }
    return { module: mod.name, applied, pending: [] };
  });
}

async function assertOwnedInsidePrefix(worker: pg.Client, mod: MigrationTarget, roles: ModuleRoleNames): Promise<void> {
  const owned = await findOwnedOutsidePrefix(worker, roles.owner, mod.tablePrefix, `module ${mod.name}`);
  if (owned.length === 0) return;
  const more = owned.length > 1 ? ` (and ${owned.length - 1} more)` : '';
  throw new HubError('migration_prefix', `${owned[0]!.message.replace(/ creates /, "'s owner role owns ")}${more}; drop it, or rename it under the prefix in a new migration`,
    { violations: owned.map((o) => ({ action: 'owns', name: o.name, message: o.message })) });
}

/** Reverts the last `count` applied migrations, newest first, each in its own transaction. */
export async function revertModule(db: Database, mod: MigrationTarget, count: number, opts: MigrateOptions = {}): Promise<RevertResult> {
  const files = await readFiles(mod);
  const log = opts.log ?? db.log;
  const settings = opts.settings ?? MIGRATION_DEFAULTS;
  const planFor = (ledger: Map<number, LedgerRow>): { file: MigrationFile; down: string }[] => {
    // Newest applied first: with HUB_MIGRATIONS_OUT_OF_ORDER a lower number can be the newest.
    const versions = [...ledger.values()]
      .sort((a, b) => b.appliedAt.getTime() - a.appliedAt.getTime() || b.version - a.version)
      .map((r) => r.version).slice(0, Math.max(0, count));
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
  return withModuleLock(db, mod, roles, opts, settings, async (worker) => {
    const steps = planFor(await readLedger(db.pool, mod.name));
    const parsed = new Map<number, SqlStatement[]>();
    for (const s of steps) parsed.set(s.file.version, await parseFile(mod, s.file, 'down'));
    const reverted: AppliedMigration[] = [];
    for (const s of steps) {
      const durationMs = await runFile(db, worker, mod, s.file, 'down', roles, parsed.get(s.file.version)!);
      reverted.push({ version: s.file.version, name: s.file.name, file: s.file.file, durationMs });
      log.info({ module: mod.name, file: s.file.file, ms: durationMs }, 'migration reverted');
    }
    return { module: mod.name, reverted, plan: steps.map((s) => plan(s.file, s.down)) };
  });
}

export async function migrationStatus(db: Database, mods: MigrationTarget[]): Promise<ModuleMigrationStatus[]> {
  const out: ModuleMigrationStatus[] = [];
  for (const mod of mods) {
    const files = await readFiles(mod);
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

/** The module's files; a misnamed file is an error naming the module and the file. */
async function readFiles(mod: MigrationTarget): Promise<MigrationFile[]> {
  try {
    return await readMigrationDir(join(mod.dir, 'migrations'));
  } catch (e) {
    if (isHubError(e) && e.message.startsWith('migrations/')) throw new HubError(e.code, `${mod.name}/${e.message}`, e.details);
    throw e;
  }
}

/** Parses one direction of a file with PostgreSQL's parser; refuses what migration-sql.ts refuses. */
async function parseFile(mod: MigrationTarget, f: MigrationFile, direction: 'up' | 'down'): Promise<SqlStatement[]> {
  const where = label(mod, f);
  const statements = await parseMigrationSql(direction === 'up' ? f.up : f.down!, where, direction === 'up' ? 1 : f.downStartLine);
  if (f.noTransaction) assertNoTransactionStatements(statements, where, mod.name === KERNEL_MODULE ? null : mod.tablePrefix);
  return statements;
}

/**
 * A pending file numbered below an applied one: refused (migration_order) naming both, unless
 * HUB_MIGRATIONS_OUT_OF_ORDER=true, which applies it with one warning line.
 */
function checkOrder(mod: MigrationTarget, files: MigrationFile[], ledger: Map<number, LedgerRow>,
  pending: MigrationFile[], settings: MigrationSettings, log: Logger): void {
  if (ledger.size === 0) return;
  const newest = [...ledger.values()].reduce((a, b) => (b.version > a.version ? b : a));
  const newestFile = files.find((f) => f.version === newest.version)?.file ?? `${newest.version}_${newest.name}.sql`;
  for (const f of pending.filter((p) => p.version < newest.version)) {
    if (!settings.outOfOrder) {
      throw new HubError('migration_order',
        `${label(mod, f)} is numbered below ${mod.name}/migrations/${newestFile}, which is already applied; ` +
        'give it a number above the applied ones, or set HUB_MIGRATIONS_OUT_OF_ORDER=true to apply it anyway',
        { module: mod.name, file: f.file, applied: newestFile });
    }
    log.warn({ module: mod.name, file: f.file, applied: newestFile },
      `migrate: applying ${label(mod, f)} after ${newestFile} (out of order, HUB_MIGRATIONS_OUT_OF_ORDER=true)`);
  }
}

async function adoptForeign(db: Database, mod: MigrationTarget, files: MigrationFile[], roles: ModuleRoleNames, opts: MigrateOptions,
  settings: MigrationSettings, log: Logger): Promise<void> {
  const admin = await db.pool.connect();
  try {
    const declared = new Set<string>();
    for (const f of files) for (const n of namesDeclared(await parseFile(mod, f, 'up'))) declared.add(n);
    await adoptPrefixed(admin, {
      module: mod.name, prefix: mod.tablePrefix, owner: roles.owner, kernelLogin: db.connection.user, adoptAll: opts.adopt === true, log,
      lockTimeoutMs: settings.lockTimeoutMs, declared,
    });
  } finally {
    admin.release();
  }
}

/**
 * Holds the module's hub_locks row for the whole run, ends sessions a dead kernel left behind,
 * and opens the connection the files run on: the owner role's own login for a module with
 * roles, else the kernel's login (the kernel's own migrations; servers without CREATE ROLE).
 * Neither the lock nor the worker comes from the admin pool.
 */
async function withModuleLock<T>(db: Database, mod: MigrationTarget, roles: ModuleRoleNames | null, opts: MigrateOptions,
  settings: MigrationSettings, fn: (worker: pg.Client) => Promise<T>): Promise<T> {
  // On the shared login a migration could touch anything, and the seal's drop check needs to
  // know no other module migrated meanwhile: those runs take one lock for all modules.
  return withLock(db, roles ? `migrate:${mod.name}` : mod.name === KERNEL_MODULE ? KERNEL_LOCK : 'migrate:shared-login', opts.lockTimeoutMs ?? settings.waitMs, async (lock) => {
    await endOrphans(db, lock, mod.name, roles ? roles.owner : db.connection.user, opts.log ?? db.log, roles !== null);
    let worker: pg.Client;
    if (roles) {
      await registerOwner(db, roles, mod.name);
      worker = await openOwnerSession(db, mod.name, roles, settings);
    } else {
      worker = await dedicatedClient(db, migrationAppName(mod.name));
      await worker.query(`SET statement_timeout = ${settings.statementTimeoutMs}`);
      await worker.query(`SET lock_timeout = ${settings.lockTimeoutMs}`);
    }
    // SET statement_timeout = 0 in a file lifts the session's own limit; this one is outside it
    const watchdog = watchMigrationSession(db, worker, settings.statementTimeoutMs, mod.name, opts.log ?? db.log);
    const cancel = () => void endSession(db, worker);
    opts.signal?.addEventListener('abort', cancel, { once: true });
    try {
      opts.signal?.throwIfAborted();
      // Default privileges first, so what the files create is granted (and not PUBLIC-executable).
      if (roles) await grantToRuntime(worker, roles);
      const result = await fn(worker);
      if (roles) await grantToRuntime(worker, roles);
      return result;
    } catch (e) {
      opts.signal?.throwIfAborted();
      throw watchdog.fired() ?? e;
    } finally {
      opts.signal?.removeEventListener('abort', cancel);
      watchdog.stop();
      if (roles) await closeOwnerSession(db, roles, worker);
      else await worker.end().catch(() => undefined);
    }
  }, opts.signal);
}

/**
 * Ends a migration session from the kernel's own login (its open file rolls back); without
 * pg_signal_backend the socket is closed instead, as the watchdog does.
 */
async function endSession(db: Database, worker: pg.Client): Promise<void> {
  const pid = (worker as unknown as { processID?: number }).processID;
  const ended = pid === undefined ? false : await db.pool.query<{ ok: boolean }>('SELECT pg_catalog.pg_terminate_backend($1) AS ok', [pid])
    .then((t) => t.rows[0]?.ok === true, () => false);
  if (!ended) (worker as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/**
 * One file. Normally one transaction on `worker`: run, seal to the prefix, record in the
 * ledger, commit, so a file is applied and recorded together or not at all. A
 * `-- migrate:no-transaction` file runs statement by statement, then is sealed and recorded.
 */
async function runFile(db: Database, worker: pg.Client, mod: MigrationTarget, f: MigrationFile, direction: 'up' | 'down',
  roles: ModuleRoleNames | null, statements: SqlStatement[]): Promise<number> {
  if (!roles) return runFileWith(worker, mod, f, direction, null, null, statements);
  // The owner's login records through hub_record_migration (kernel migration 005), which wants a
  // one-use token for this owner, version and direction: the kernel writes it on its own login
  // now and passes it only in the call after the file's statements, so the file's SQL cannot
  // record, forge or delete ledger rows itself.
  const token = randomBytes(24).toString('base64url');
  const applied = direction === 'up';
  await db.pool.query(
    `INSERT INTO public.hub_migration_tokens (owner_role, version, applied, token) VALUES ($1, $2, $3, $4)
     ON CONFLICT (owner_role, version, applied) DO UPDATE SET token = EXCLUDED.token`, [roles.owner, f.version, applied, token]);
  try {
    return await runFileWith(worker, mod, f, direction, roles, token, statements);
  } finally {
    await db.pool.query('DELETE FROM public.hub_migration_tokens WHERE owner_role = $1 AND version = $2 AND applied = $3',
      [roles.owner, f.version, applied]).catch(() => undefined);
  }
}

async function runFileWith(worker: pg.Client, mod: MigrationTarget, f: MigrationFile, direction: 'up' | 'down',
  roles: ModuleRoleNames | null, token: string | null, statements: SqlStatement[]): Promise<number> {
  const where = label(mod, f);
  const sealed = mod.name !== KERNEL_MODULE;
  // The ledger row goes in the file's own transaction: on the kernel's login directly, on the
  // owner's through hub_record_migration, which writes only the login's own module's rows.
  const record = async (q: Pick<PoolClient, 'query'>, durationMs: number): Promise<void> => {
    if (roles) {
      await q.query('SELECT public.hub_record_migration($1, $2, $3, $4, $5, $6)', [token, f.version, f.name, f.checksum, durationMs, direction === 'up']);
    } else if (direction === 'up') {
      await q.query('INSERT INTO public.hub_migrations (module, version, name, checksum, duration_ms) VALUES ($1, $2, $3, $4, $5)',
        [mod.name, f.version, f.name, f.checksum, durationMs]);
    } else {
      await q.query('DELETE FROM public.hub_migrations WHERE module = $1 AND version = $2', [mod.name, f.version]);
    }
  };
  const seal = async (before: Awaited<ReturnType<typeof snapshotCatalog>> | null): Promise<void> => {
    if (!before) return;
    await pinCatalogSearchPath(worker);
    const owned = roles ? await findOwnedOutsidePrefix(worker, roles.owner, mod.tablePrefix, where) : [];
    assertPrefixSeal(before, await snapshotCatalog(worker), mod.tablePrefix, where, owned,
      { concurrent: roles !== null });
  };

  if (f.noTransaction) {
    const before = sealed ? await snapshotCatalog(worker) : null;
    const durationMs = await runStatements(worker, statements, where);
    await worker.query('BEGIN');
    try {
      await seal(before);
    } finally {
      await worker.query('ROLLBACK').catch(() => undefined);
    }
    await record(worker, durationMs);
    return durationMs;
  }

  await worker.query('BEGIN');
  try {
    const before = sealed ? await snapshotCatalog(worker) : null;
    const durationMs = await runStatements(worker, statements, where);
    if (roles) {
      // Belt and braces: the owner's login is a member of nothing, so this cannot differ.
      const who = await worker.query<{ u: string }>('SELECT pg_catalog.current_user() AS u');
      if (who.rows[0]!.u !== roles.owner) throw new HubError('migration_failed', `${where}: ended as role "${who.rows[0]!.u}"; migrations must run as the module's own role`);
    }
    await seal(before);
    await record(worker, durationMs);
    await worker.query('COMMIT');
    return durationMs;
  } catch (e) {
    await worker.query('ROLLBACK').catch(() => {});
    if (e instanceof HubError) throw e;
    throw new HubError('migration_failed', `${where}: ${(e as Error).message}`);
  }
}

/**
 * Runs a file's statements one by one, as the parser split them, so an error the server reports
 * without a position (one raised inside a DO block, say) still names its line. Returns ms taken.
 *
 * Each goes in one extended-protocol message, which the server refuses if it holds more than
 * one command. The parser reads strings as standard_conforming_strings = on; a file that sets it
 * off makes the server read `'a\' /* '; COMMIT; …` as three statements where the parser sees one
 * with a comment, and in a simple-protocol message the server would run the hidden COMMIT.
 */
async function runStatements(worker: pg.Client, statements: SqlStatement[], where: string): Promise<number> {
  const t0 = performance.now();
  for (const s of statements) {
    try {
      await worker.query(extended(s.text));
    } catch (e) {
      throw sqlFailure(e, where, s.text, s.line);
    }
  }
  return Math.round(performance.now() - t0);
}

/** node-pg sends a query with queryMode 'extended' as Parse/Bind/Execute (its types lack the field). */
function extended(text: string): pg.QueryConfig {
  return { text, queryMode: 'extended' } as pg.QueryConfig;
}

/** `sql` is one statement's text and `startLine` its file line; the error names the line. */
function sqlFailure(e: unknown, where: string, sql: string, startLine: number): HubError {
  const err = e as { message?: string; position?: string; code?: string };
  const message = err.message ?? String(e);
  const position = err.position ? Number(err.position) : NaN;
  const line = Number.isFinite(position) && position > 0 ? lineOfPosition(sql, position, startLine) : startLine;
  if (/^cannot insert multiple commands into a prepared statement/.test(message)) {
    return new HubError('migration_failed',
      `${where}: the server reads more than one statement at line ${line} where PostgreSQL's parser reads one ` +
      '(standard_conforming_strings off makes a backslash escape a quote); keep standard_conforming_strings on', { file: where, line, sqlstate: err.code });
  }
  return new HubError('migration_failed', `${where}: ${message} at line ${line}`, { file: where, line, sqlstate: err.code });
}
