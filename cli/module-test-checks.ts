// The checks of `hubctl test` on one module, each on the run's throwaway database
// (module-test-db.ts): migrations up/down/up, seal and isolation, and the module's own tests.
// The real-child check is in module-test-child.ts. Each returns CheckResults; a failure is a
// value, never a throw, so one broken check does not hide the others.
import { spawn } from 'node:child_process';
import { chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { migrationSettings } from '../kernel/config.js';
import { readMigrationDir } from '../kernel/migration-files.js';
import { migrateModule, revertModule, type MigrationTarget } from '../kernel/migrator.js';
import type { ModuleEntry } from '../kernel/module-entry.js';
import { closeOwnerSession, ensureModuleRoles, issueRuntimeCredentials, openOwnerSession, registerOwner } from '../kernel/module-roles.js';
import { assertPrefixSeal, findOwnedOutsidePrefix, pinCatalogSearchPath, snapshotCatalog } from '../kernel/prefix-seal.js';
import type { TestedCheck } from '../kernel/tested-records.js';
import { isHubError } from '../shared/errors.js';
import { HUB_ROOT } from '../shared/paths.js';
import { describeDiff, diffCatalog, isEmptyDiff, prefixCatalog } from './module-test-catalog.js';
import type { RunCleanup } from './module-test-cleanup.js';
import type { ThrowawayDatabase } from './module-test-db.js';
import { copyModuleForTests, killAllOf, prepareTestsUser, testsEnvironment } from './module-test-user.js';

export type CheckResult = TestedCheck;

export interface CheckContext {
  mod: ModuleEntry;
  /** The modules it needs, dependencies first (already migrated by the migrations check). */
  deps: ModuleEntry[];
  tdb: ThrowawayDatabase;
  cleanup: RunCleanup;
  /** A temp folder for this module's run (removed by the cleanup). */
  tmp: string;
  /** --strict: warnings (no down section, no tests, no roles) fail. */
  strict: boolean;
  /** How messages name the module's folder: `modules/notes`, `modules/_template` (a staged template's source). */
  folder: string;
}

export const target = (e: ModuleEntry, dir = e.dir): MigrationTarget => ({ name: e.name, tablePrefix: e.manifest!.table_prefix, dir });

const errText = (e: unknown): string => (isHubError(e) ? e.message : (e as Error)?.message ?? String(e));

/** Times `fn` into a check line. */
export async function timed(name: string, fn: () => Promise<Omit<CheckResult, 'name' | 'ms'>>): Promise<CheckResult> {
  const t0 = performance.now();
  let r: Omit<CheckResult, 'name' | 'ms'>;
  try {
    r = await fn();
  } catch (e) {
    r = { status: 'fail', message: errText(e) };
  }
  return { name, ms: Math.round(performance.now() - t0), ...r };
}

const warnOrFail = (strict: boolean): 'warn' | 'fail' => (strict ? 'fail' : 'warn');

/**
 * Dependencies' migrations, then the module's one file at a time (a staging copy of its
 * migrations folder grows by one file per step) with a catalog snapshot after each; then every
 * down section newest first, each compared with the snapshot before its up; then up again,
 * compared with the first up. A file without a down section ends the down walk (nothing older
 * can be reverted past it) and is one warning line.
 */
export async function migrationChecks(ctx: CheckContext): Promise<CheckResult[]> {
  const { db } = ctx.tdb;
  const settings = migrationSettings();
  const prefix = ctx.mod.manifest!.table_prefix;
  const out: CheckResult[] = [];
  const warnings: string[] = [];
  out.push(await timed('migrations', async () => {
    for (const dep of ctx.deps) await migrateModule(db, target(dep), { settings });
    const files = await readMigrationDir(join(ctx.mod.dir, 'migrations'));
    const stage = join(ctx.tmp, 'stage', ctx.mod.name);
    mkdirSync(join(stage, 'migrations'), { recursive: true });
    const staged = target(ctx.mod, stage);
    const snaps = [await prefixCatalog(db.pool, prefix)];
    for (const f of files) {
      copyFileSync(join(ctx.mod.dir, 'migrations', f.file), join(stage, 'migrations', f.file));
      await migrateModule(db, staged, { settings });
      snaps.push(await prefixCatalog(db.pool, prefix));
    }
    if (files.length === 0) return { status: 'pass', message: 'no migrations' };
    let reverted = 0;
    for (let i = files.length - 1; i >= 0; i--) {
      const f = files[i]!;
      if (f.down === null) {
        warnings.push(`${f.file} has no "-- migrate:down" section${i > 0 ? `, so ${i} older file${i > 1 ? 's' : ''} could not be reverted either` : ''}`);
        break;
      }
      await revertModule(db, staged, 1, { settings });
      const diff = diffCatalog(snaps[i]!, await prefixCatalog(db.pool, prefix));
      if (!isEmptyDiff(diff)) return { status: 'fail', message: `${f.file} down ${describeDiff(diff)}` };
      reverted++;
    }
    await migrateModule(db, target(ctx.mod), { settings });
    const again = diffCatalog(snaps[files.length]!, await prefixCatalog(db.pool, prefix));
    if (!isEmptyDiff(again)) return { status: 'fail', message: `up after down is not the first up: ${describeDiff(again)}` };
    return { status: 'pass', message: `${files.length} file${files.length > 1 ? 's' : ''}: up, ${reverted} down, up again` };
  }));
  for (const w of warnings) out.push({ name: 'migrations: down sections', status: warnOrFail(ctx.strict), ms: 0, message: w });
  return out;
}

/** A module of the run's own, holding one table, whose rows the tested module must not read. */
function probeModule(tmp: string): MigrationTarget {
  const dir = join(tmp, 'probe', 'hubtest_probe');
  mkdirSync(join(dir, 'migrations'), { recursive: true });
  writeFileSync(join(dir, 'migrations', '001_secret.sql'),
    'CREATE TABLE hubtestprobe_secret (id int PRIMARY KEY);\nINSERT INTO hubtestprobe_secret VALUES (1);\n-- migrate:down\nDROP TABLE hubtestprobe_secret;\n');
  return { name: 'hubtest_probe', tablePrefix: 'hubtestprobe_', dir };
}

async function deniedAs(connect: () => Promise<pg.Client>, sql: string): Promise<boolean> {
  const c = await connect();
  try {
    await c.query(sql);
    return false;
  } catch (e) {
    if ((e as { code?: string }).code === '42501') return true;
    throw e;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * The module's runtime role and owner role each try to read the probe module's table
 * (permission denied expected); the owner role tries to create a table outside its prefix,
 * which the seal (kernel/prefix-seal.ts) must refuse.
 */
export async function isolationCheck(ctx: CheckContext): Promise<CheckResult> {
  return timed('seal & isolation', async () => {
    const { db } = ctx.tdb;
    const settings = migrationSettings();
    const me = target(ctx.mod);
    const probe = probeModule(ctx.tmp);
    await migrateModule(db, probe, { settings });
    const roles = await ensureModuleRoles(db, me);
    if (!roles) return { status: warnOrFail(ctx.strict), message: "the server does not let the hub create roles: modules share the kernel's login, there is no isolation to check" };
    const creds = await issueRuntimeCredentials(db, me);
    const asRuntime = async () => {
      const c = new pg.Client({ ...creds.connection, connectionTimeoutMillis: 5_000 });
      await c.connect();
      return c;
    };
    if (!(await deniedAs(asRuntime, 'SELECT * FROM public.hubtestprobe_secret'))) {
      return { status: 'fail', message: `runtime role ${creds.connection.user} can read another module's table hubtestprobe_secret` };
    }
    if (!(await deniedAs(asRuntime, 'CREATE TABLE public.hubtest_outside (id int)'))) {
      return { status: 'fail', message: `runtime role ${creds.connection.user} can create a table (hubtest_outside)` };
    }
    await registerOwner(db, roles, me.name);
    const owner = await openOwnerSession(db, me.name, roles, settings);
    try {
      try {
        await owner.query('SELECT * FROM public.hubtestprobe_secret');
        return { status: 'fail', message: `owner role ${roles.owner} can read another module's table hubtestprobe_secret` };
      } catch (e) {
        if ((e as { code?: string }).code !== '42501') throw e;
      }
      await owner.query('BEGIN');
      try {
        const before = await snapshotCatalog(owner);
        let created = true;
        try {
          await owner.query('CREATE TABLE public.hubtest_outside (id int)');
        } catch (e) {
          if ((e as { code?: string }).code !== '42501') throw e;
          created = false;
        }
        if (created) {
          await pinCatalogSearchPath(owner);
          const owned = await findOwnedOutsidePrefix(owner, roles.owner, me.tablePrefix, 'probe');
          try {
            assertPrefixSeal(before, await snapshotCatalog(owner), me.tablePrefix, 'probe', owned, { concurrent: true });
            return { status: 'fail', message: `the prefix seal let owner role ${roles.owner} create table hubtest_outside` };
          } catch (e) {
            if (!isHubError(e) || e.code !== 'migration_prefix') throw e;
          }
        }
      } finally {
        await owner.query('ROLLBACK').catch(() => undefined);
      }
    } finally {
      await closeOwnerSession(db, roles, owner);
    }
    return { status: 'pass', message: `runtime and owner roles denied another module's table; the seal refused a table outside "${me.tablePrefix}"` };
  });
}

/** vitest's JSON reporter marks a failed test so. */
const VITEST_FAILED = new Set(['failed']);

interface VitestJson {
  numTotalTests?: number;
  numFailedTests?: number;
  testResults?: { name?: string; message?: string; assertionResults?: { fullName?: string; status?: string; failureMessages?: string[] }[] }[];
}

/** First lines of a failure, without ANSI codes and stack frames. */
function firstLines(text: string, n = 4): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, '').split('\n').filter((l) => l.trim() && !/^\s+at /.test(l)).slice(0, n).join('\n');
}

/**
 * vitest on modules/<name>/tests/*.test.ts, with a config written for the run:
 * `bmc-hub/testing` resolves to the hub's shared/testing/index.ts and HUB_TEST_DATABASE_URL is
 * the throwaway database, already migrated.
 */
export async function ownTestsCheck(ctx: CheckContext): Promise<CheckResult> {
  return timed('module tests', async () => {
    const testsDir = join(ctx.mod.dir, 'tests');
    const files = existsSync(testsDir) ? readdirSync(testsDir).filter((f) => f.endsWith('.test.ts')) : [];
    if (files.length === 0) return { status: warnOrFail(ctx.strict), message: `no tests in ${ctx.folder}/tests` };
    // the module author's code: its own user and a clean environment (./module-test-user.ts)
    const user = prepareTestsUser(ctx.mod.name, process.env.HUB_ISOLATION, (home, uid) => {
      ctx.cleanup.tell({ dir: home });
      if (uid !== null) ctx.cleanup.tell({ uid });
    });
    // whatever the tests left running (a setsid daemon too) ends with the run
    if (user.runAs) ctx.cleanup.add(async () => killAllOf(user.runAs!.uid));
    ctx.cleanup.add(async () => rmSync(user.home, { recursive: true, force: true }));
    const moduleDir = copyModuleForTests(user, ctx.mod.dir);
    const report = join(user.home, 'vitest.json');
    // in the tests' home: vite writes a compiled copy beside it
    const config = join(user.home, 'vitest.config.mjs');
    writeFileSync(config, `export default ${JSON.stringify({
      root: moduleDir,
      cacheDir: join(user.home, 'vite-cache'),
      resolve: { alias: { 'bmc-hub/testing': join(HUB_ROOT, 'shared', 'testing', 'index.ts') } },
      server: { fs: { allow: [moduleDir, HUB_ROOT] } },
      test: {
        include: ['tests/*.test.ts'],
        testTimeout: 60_000,
        hookTimeout: 120_000,
        pool: 'forks',
        env: { HUB_TEST_DATABASE_URL: ctx.tdb.url, HUB_TEST_MODULE: ctx.mod.name, HUB_TEST_MODULE_DIR: moduleDir },
      },
    }, null, 2)};\n`);
    if (user.runAs) chownSync(config, user.runAs.uid, user.runAs.gid);
    const vitest = join(HUB_ROOT, 'node_modules', 'vitest', 'vitest.mjs');
    const child = spawn(process.execPath, [vitest, 'run', '--config', config, '--reporter=json', `--outputFile=${report}`], {
      cwd: moduleDir,
      env: testsEnvironment(user.home, { HUB_TEST_DATABASE_URL: ctx.tdb.url, HUB_TEST_MODULE: ctx.mod.name, HUB_TEST_MODULE_DIR: moduleDir }),
      ...(user.runAs ?? {}),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    if (child.pid) {
      const pid = child.pid;
      ctx.cleanup.tell({ pid });
      // on Ctrl-C the run's cleanup ends vitest and its workers (its own process group)
      ctx.cleanup.add(async () => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // exited already
        }
      });
    }
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
    child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    if (user.runAs) killAllOf(user.runAs.uid);
    let parsed: VitestJson | null = null;
    try {
      parsed = JSON.parse(readFileSync(report, 'utf8')) as VitestJson;
    } catch {
      parsed = null;
    }
    if (!parsed) return { status: 'fail', message: `vitest exited with ${code} and no report:\n${firstLines(output, 12)}` };
    const failures: string[] = [];
    for (const file of parsed.testResults ?? []) {
      // vitest's own outcome words, not module states
      const failed = (file.assertionResults ?? []).filter((a) => VITEST_FAILED.has(a.status ?? ''));
      for (const a of failed) failures.push(`${a.fullName ?? '?'}: ${firstLines((a.failureMessages ?? []).join('\n'))}`);
      if (failed.length === 0 && file.message) failures.push(`${file.name ?? 'a test file'}: ${firstLines(file.message)}`);
    }
    const total = parsed.numTotalTests ?? 0;
    if (code !== 0 || failures.length > 0) {
      return { status: 'fail', message: `${parsed.numFailedTests ?? failures.length} of ${total} failed\n${failures.join('\n') || firstLines(output, 12)}` };
    }
    return { status: 'pass', message: `${total} test${total === 1 ? '' : 's'} in ${files.length} file${files.length === 1 ? '' : 's'}, ${user.note}` };
  });
}
