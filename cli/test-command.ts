// `hubctl test <name...>` / `hubctl test --all`: each module on a throwaway database of its own
// (module-test-db.ts), no running hub needed. Checks, one line each: migrations up/down/up,
// seal & isolation, the real child, the module's own tests; then a summary line. The result
// is recorded against the module's content hash in HUB_DATA_DIR/tested/<name>.json
// (kernel/tested-records.ts), which HUB_REQUIRE_TESTED=true asks for before any start.
// Exit 1 when any check failed. --json: one JSON document on stdout; --junit <file>: JUnit XML.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { moduleContentHash } from '../kernel/module-fingerprint.js';
import type { ModuleEntry } from '../kernel/module-entry.js';
import { dependencyClosure } from '../kernel/registry-rules.js';
import { scanModules } from '../kernel/registry.js';
import { writeTestedRecord, type TestedCheck } from '../kernel/tested-records.js';
import { HUB_VERSION } from '../shared/paths.js';
import { stripControls } from '../shared/terminal-safe.js';
import { dataDir, modulesDir } from './env.js';
import { CliError, EXIT } from './errors.js';
import { pc } from './format.js';
import { childCheck } from './module-test-child.js';
import { isolationCheck, migrationChecks, ownTestsCheck, timed, type CheckContext } from './module-test-checks.js';
import { RunCleanup } from './module-test-cleanup.js';
import { createThrowaway } from './module-test-db.js';
import { junitXml, type JunitModule } from './module-test-junit.js';
import { checkName } from './module-commands.js';

export interface TestOptions {
  all?: boolean;
  json?: boolean;
  junit?: string;
  strict?: boolean;
}

export interface Summary { passed: number; failed: number; warnings: number; ms: number }
export interface ModuleRun { module: string; hash: string; passed: boolean; checks: TestedCheck[]; summary: Summary; started_at: string }

function summarise(checks: TestedCheck[], ms: number): Summary {
  return {
    passed: checks.filter((c) => c.status === 'pass').length,
    failed: checks.filter((c) => c.status === 'fail').length,
    warnings: checks.filter((c) => c.status === 'warn' || c.status === 'skip').length,
    ms: Math.round(ms),
  };
}

function line(c: TestedCheck): string {
  const mark = c.status === 'pass' ? pc.green('✓') : c.status === 'fail' ? pc.red('✗') : pc.yellow('!');
  // a message carries module text (SQL errors, the child's last_error, its tests' output): no control sequences
  const [first, ...rest] = (c.message ?? '').split('\n').map(stripControls);
  const msg = first ? `  ${c.status === 'fail' ? pc.red(first) : pc.dim(first)}` : '';
  return [`  ${mark} ${c.name} ${pc.dim(`(${c.ms} ms)`)}${msg}`, ...rest.map((l) => `      ${l}`)].join('\n');
}

async function runModule(mod: ModuleEntry, entries: ModuleEntry[], opts: TestOptions, print: (s: string) => void, stage: string | null, folder: string): Promise<ModuleRun> {
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  // hashed before anything runs: an edit during the run leaves the module untested
  const hash = await moduleContentHash(mod.dir);
  const checks: TestedCheck[] = [];
  const add = (cs: TestedCheck[]) => {
    for (const c of cs) {
      checks.push(c);
      print(line(c));
    }
  };
  const cleanup = new RunCleanup();
  const unhook = cleanup.onSignals();
  const tmp = mkdtempSync(join(tmpdir(), `hubtest-${mod.name}-`));
  cleanup.tell({ dir: tmp });
  cleanup.add(async () => rmSync(tmp, { recursive: true, force: true }));
  if (stage) {
    cleanup.tell({ dir: stage });
    cleanup.add(async () => rmSync(stage, { recursive: true, force: true }));
  }
  try {
    const deps = dependencyClosure(entries, mod.name).map((n) => entries.find((e) => e.name === n)!);
    let ctx: CheckContext | null = null;
    const db = await timed('throwaway database', async () => {
      const tdb = await createThrowaway(process.env.DATABASE_URL || undefined, cleanup, tmp);
      ctx = { mod, deps, tdb, cleanup, tmp, strict: opts.strict === true, folder };
      return { status: 'pass', message: tdb.embedded ? `embedded PostgreSQL in a temp folder` : tdb.name };
    });
    add([db]);
    if (ctx) {
      const c: CheckContext = ctx;
      add(await migrationChecks(c));
      if (checks.every((x) => x.status !== 'fail')) {
        add([await isolationCheck(c)]);
        // two kernels of their own on one database (the hub's locks and per-kernel runtime
        // roles make that safe): side by side, the slowest two checks take the time of one
        add(await Promise.all([childCheck(c), ownTestsCheck(c)]));
      } else {
        const skipped = (name: string): TestedCheck => ({ name, status: 'skip', ms: 0, message: 'not run: the migrations failed' });
        add(['seal & isolation', 'real child', 'module tests'].map(skipped));
      }
    }
  } finally {
    await cleanup.run();
    unhook();
  }
  const summary = summarise(checks, performance.now() - t0);
  const passed = summary.failed === 0;
  // a template (staged copy) is never loaded by the kernel: its run is no verdict on the module
  // its module.json names, whose record it must not overwrite
  if (!stage) await writeTestedRecord(dataDir(), { module: mod.name, hash, passed, at: new Date().toISOString(), hub_version: HUB_VERSION, checks });
  return { module: mod.name, hash, passed, checks, summary, started_at: startedAt };
}

/** A module whose module.json the registry refuses: one failed check, recorded as failed. */
async function refusedRun(mod: ModuleEntry, print: (s: string) => void): Promise<ModuleRun> {
  const check: TestedCheck = { name: 'module.json', status: 'fail', ms: 0, message: mod.error?.message ?? `modules/${mod.name}/module.json is unusable` };
  print(line(check));
  const hash = await moduleContentHash(mod.dir);
  // a folder whose name is not a module name has no record to write
  await writeTestedRecord(dataDir(), { module: mod.name, hash, passed: false, at: new Date().toISOString(), hub_version: HUB_VERSION, checks: [check] }).catch(() => undefined);
  return { module: mod.name, hash, passed: false, checks: [check], summary: summarise([check], 0), started_at: new Date().toISOString() };
}

/** Folders the kernel never loads but `hubctl test` does: modules/_template (what hubctl create copies). */
const TEMPLATE_FOLDER = /^_[a-z][a-z0-9_]{0,38}$/;

/**
 * A template folder (modules/_template, named template_module in its module.json) staged as a
 * module folder named after its manifest, in a temp folder, and read as the kernel reads modules.
 */
async function stageTemplate(modulesDir: string, folder: string): Promise<{ entry: ModuleEntry; stage: string }> {
  const src = join(modulesDir, folder);
  let manifestName: unknown;
  try {
    manifestName = (JSON.parse(readFileSync(join(src, 'module.json'), 'utf8')) as { name?: unknown }).name;
  } catch (e) {
    throw new CliError(`${folder}/module.json is unreadable (${(e as Error).message}), fix it`, EXIT.error);
  }
  const name = checkName(String(manifestName));
  const stage = mkdtempSync(join(tmpdir(), `hubtest-stage-${name}-`));
  cpSync(src, join(stage, name), { recursive: true, filter: (p) => !p.split('/').includes('node_modules') });
  const entry = (await scanModules(stage, HUB_VERSION)).find((e) => e.name === name);
  if (!entry?.manifest || entry.error) {
    rmSync(stage, { recursive: true, force: true });
    throw new CliError(`${folder} cannot be tested: ${entry?.error?.message ?? 'module.json is unusable'}`, EXIT.error);
  }
  return { entry, stage };
}

/** Runs the command; returns the exit code (0 all passed, 1 a check failed). */
export async function testCommand(rawNames: string[], opts: TestOptions): Promise<number> {
  const dir = modulesDir();
  const entries = await scanModules(dir, HUB_VERSION);
  if (opts.all && rawNames.length) throw new CliError('give module names or --all, not both', EXIT.usage);
  if (!opts.all && rawNames.length === 0) throw new CliError('which module? hubctl test <name...> or hubctl test --all', EXIT.usage);
  const templates = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory() && TEMPLATE_FOLDER.test(d.name)).map((d) => d.name);
  const names = opts.all ? [...entries.map((e) => e.name), ...templates] : rawNames.map((n) => (TEMPLATE_FOLDER.test(n) ? n : checkName(n)));
  const stages = new Map<string, string>();
  const folders = new Map<string, string>();
  const mods = await Promise.all(names.map(async (n) => {
    if (TEMPLATE_FOLDER.test(n)) {
      const staged = await stageTemplate(dir, n);
      stages.set(staged.entry.name, staged.stage);
      folders.set(staged.entry.name, `modules/${n}`);
      entries.push(staged.entry);
      return staged.entry;
    }
    const e = entries.find((x) => x.name === n);
    if (!e) throw new CliError(`no module named "${n}" in ${dir}, see ls ${dir} or set HUB_MODULES_DIR`, EXIT.notFound);
    // a module the registry refuses is a failed run (one check), not the end of --all
    return e;
  }));
  const print = opts.json ? () => undefined : (s: string) => process.stdout.write(s + '\n');
  const t0 = performance.now();
  const runs: ModuleRun[] = [];
  for (const mod of mods) {
    print(pc.bold(mod.name));
    const r = mod.manifest && !mod.error
      ? await runModule(mod, entries, opts, print, stages.get(mod.name) ?? null, folders.get(mod.name) ?? `modules/${mod.name}`)
      : await refusedRun(mod, print);
    runs.push(r);
    const s = r.summary;
    print(`  ${r.passed ? pc.green('passed') : pc.red('FAILED')}: ${s.passed} passed, ${s.failed} failed, ${s.warnings} warning${s.warnings === 1 ? '' : 's'} in ${(s.ms / 1000).toFixed(1)} s`);
  }
  const all = runs.flatMap((r) => r.checks);
  const total = summarise(all, performance.now() - t0);
  if (runs.length > 1) print(pc.bold(`${runs.filter((r) => r.passed).length} of ${runs.length} modules passed in ${(total.ms / 1000).toFixed(1)} s`));
  if (opts.junit) {
    const modules: JunitModule[] = runs.map((r) => ({ module: r.module, checks: r.checks, startedAt: r.started_at }));
    writeFileSync(opts.junit, junitXml(modules));
  }
  if (opts.json) process.stdout.write(JSON.stringify({ modules: runs, summary: { ...total, modules: runs.length } }, null, 2) + '\n');
  return runs.every((r) => r.passed) ? 0 : EXIT.error;
}
