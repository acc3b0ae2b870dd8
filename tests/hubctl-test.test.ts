// `hubctl test` end to end: the built hubctl on fixture modules, a throwaway database on the
// test server, real kernels and vitest. Failing downs and failing module tests fail the run
// with a message naming them; an aborted run (SIGINT, SIGKILL) leaves nothing behind; the
// result feeds HUB_REQUIRE_TESTED (API, CLI, boot).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rolePrefixFor } from '../kernel/module-roles.js';
import { ADMIN_URL } from './helpers/database.js';
import { HUBCTL, hubctl } from './helpers/hubctl.js';
import { startKernel, stopAllKernels } from './helpers/kernel.js';
import { leftovers, PASSING_TEST, processesMentioning, tempFoldersOf, writeTestedModule } from './helpers/module-tests.js';
import { tempDir, writeModule } from './helpers/modules.js';
import { freePort } from './helpers/ports.js';
import { waitFor } from './helpers/wait.js';

const unique = (base: string) => `${base}${randomBytes(3).toString('hex')}`;

function envFor(modulesDir: string, dataDir: string): Record<string, string> {
  return { HUB_MODULES_DIR: modulesDir, HUB_DATA_DIR: dataDir, DATABASE_URL: ADMIN_URL, NO_COLOR: '1' };
}

afterAll(async () => {
  await stopAllKernels();
});

describe('hubctl test', () => {
  it('fails a module whose down section leaves a table behind, naming the file and the table', async () => {
    const modulesDir = tempDir('modules');
    const name = unique('leaky');
    const p = `${name}_`;
    writeTestedModule(modulesDir, name, {
      migrations: {
        '001_init.sql': `CREATE TABLE ${p}items (id int);\n-- migrate:down\nDROP TABLE ${p}items;\n`,
        '002_add_x.sql': `CREATE TABLE ${p}tags (id int);\nCREATE INDEX ${p}tags_id ON ${p}tags (id);\n-- migrate:down\nSELECT 1;\n`,
      },
      tests: { 'ok.test.ts': PASSING_TEST },
    });
    const r = await hubctl(['test', name], envFor(modulesDir, tempDir('data')));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`✗ migrations \\(\\d+ ms\\)  002_add_x\\.sql down left table ${p}tags`));
    expect(r.stdout).toMatch(/FAILED: 1 passed, 1 failed/);
    // the run's database and module roles are gone with it
    const dbName = /✓ throwaway database \(\d+ ms\)  (hubtest_[0-9a-f]+)/.exec(r.stdout)![1]!;
    expect(await leftovers(dbName, rolePrefixFor(dbName))).toEqual({ databases: 0, roles: 0 });
    expect(tempFoldersOf(name)).toEqual([]);
  });

  it('reports a file without a down section as a warning, and fails it under --strict', async () => {
    const modulesDir = tempDir('modules');
    const name = unique('nodown');
    writeTestedModule(modulesDir, name, {
      migrations: { '001_init.sql': `CREATE TABLE ${name}_items (id int);\n` },
      tests: { 'ok.test.ts': PASSING_TEST },
    });
    const env = envFor(modulesDir, tempDir('data'));
    const r = await hubctl(['test', name], env);
    expect(r.stdout).toMatch(/! migrations: down sections \(0 ms\)  001_init\.sql has no "-- migrate:down" section/);
    expect(r.code).toBe(0);
    const strict = await hubctl(['test', name, '--strict'], env);
    expect(strict.stdout).toMatch(/✗ migrations: down sections/);
    expect(strict.code).toBe(1);
  });

  it("exits non-zero when the module's own test fails, showing the test and the assertion", async () => {
    const modulesDir = tempDir('modules');
    const name = unique('ownfail');
    writeTestedModule(modulesDir, name, {
      tests: {
        'ok.test.ts': PASSING_TEST,
        'bad.test.ts': "import { expect, test } from 'vitest';\ntest('totals add up', () => { expect(2 + 2).toBe(5); });\n",
      },
    });
    const r = await hubctl(['test', name], envFor(modulesDir, tempDir('data')));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/✗ module tests \(\d+ ms\)  1 of 2 failed/);
    expect(r.stdout).toMatch(/totals add up: AssertionError: expected 4 to be 5/);
    expect(r.stdout).toMatch(/✓ migrations/);
    expect(r.stdout).toMatch(/✓ seal & isolation/);
    expect(r.stdout).toMatch(/✓ real child \(\d+ ms\)  running; GET \/api\/v1\/\w+\/health 200/);
  });

  it('--json is one document with each check, and --junit writes a report', async () => {
    const modulesDir = tempDir('modules');
    const name = unique('shape');
    writeTestedModule(modulesDir, name, { tests: { 'ok.test.ts': PASSING_TEST } });
    const junit = join(tempDir('junit'), 'report.xml');
    const r = await hubctl(['test', name, '--json', '--junit', junit], envFor(modulesDir, tempDir('data')));
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { modules: { module: string; hash: string; passed: boolean; checks: { name: string; status: string; ms: number; message: string | null }[]; summary: Record<string, number> }[]; summary: Record<string, number> };
    expect(doc.modules).toHaveLength(1);
    const m = doc.modules[0]!;
    expect(m.module).toBe(name);
    expect(m.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(m.passed).toBe(true);
    expect(m.checks.map((c) => c.name)).toEqual(['throwaway database', 'migrations', 'seal & isolation', 'real child', 'module tests']);
    for (const c of m.checks) {
      expect(c.status).toBe('pass');
      expect(Number.isInteger(c.ms) && c.ms >= 0).toBe(true);
    }
    expect(m.summary).toMatchObject({ passed: 5, failed: 0, warnings: 0 });
    expect(doc.summary).toMatchObject({ passed: 5, failed: 0, modules: 1 });
    const xml = readFileSync(junit, 'utf8');
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="hubctl test" tests="5" failures="0"')).toBe(true);
    expect(xml).toContain(`<testsuite name="${name}" tests="5" failures="0" errors="0" skipped="0"`);
    expect(xml.match(/<testcase classname="hubctl\.\w+" name="[^"]+" time="\d+\.\d{3}"\/>/g)).toHaveLength(5);
    expect(xml).toContain('name="seal &amp; isolation"');
    expect(xml.trimEnd().endsWith('</testsuites>')).toBe(true);
  });
});

describe('hubctl test --all', () => {
  it('reports a module the registry refuses as a failed module and still tests the others', async () => {
    const modulesDir = tempDir('modules');
    const good = unique('good');
    writeTestedModule(modulesDir, good, { tests: { 'ok.test.ts': PASSING_TEST } });
    writeModule(modulesDir, unique('broken'), { manifestText: '{"name": ' });
    const r = await hubctl(['test', '--all', '--json'], envFor(modulesDir, tempDir('data')));
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { modules: { module: string; passed: boolean; checks: { name: string; status: string; message: string }[] }[] };
    const broken = doc.modules.find((m) => m.module.startsWith('broken'))!;
    expect(broken.passed).toBe(false);
    expect(broken.checks).toEqual([expect.objectContaining({ name: 'module.json', status: 'fail', message: expect.stringMatching(/invalid JSON/) })]);
    expect(doc.modules.find((m) => m.module === good)!.passed).toBe(true);
  });
});

describe('hubctl test without DATABASE_URL', () => {
  it('runs on a throwaway embedded PostgreSQL and leaves no server or folder behind', async () => {
    const modulesDir = tempDir('modules');
    const name = unique('embed');
    writeTestedModule(modulesDir, name, { tests: { 'ok.test.ts': "import { expect, test } from 'vitest';\ntest('has a database', () => { expect(process.env.HUB_TEST_DATABASE_URL).toMatch(/^postgres:\\/\\/postgres:/); });\n" } });
    const before = new Set(processesMentioning('hubtest-pg-'));
    const r = await hubctl(['test', name], { HUB_MODULES_DIR: modulesDir, HUB_DATA_DIR: tempDir('data'), NO_COLOR: '1' });
    expect(r.stdout).toMatch(/✓ throwaway database \(\d+ ms\)  embedded PostgreSQL in a temp folder/);
    expect(r.stdout).toMatch(/✓ module tests/);
    expect(r.code).toBe(0);
    expect(processesMentioning('hubtest-pg-').filter((p) => !before.has(p))).toEqual([]);
    expect(tempFoldersOf(name)).toEqual([]);
  }, 180_000);
});

describe('the record of a run', () => {
  it('cannot be written by a module child (HUB_DATA_DIR is the kernel\'s)', async () => {
    const modulesDir = tempDir('modules');
    const dataDir = tempDir('data');
    const name = unique('forger');
    const target = join(dataDir, 'tested', `${name}.json`);
    mkdirSync(join(dataDir, 'tested'), { recursive: true, mode: 0o700 });
    writeModule(modulesDir, name, {
      manifest: { public_routes: [`GET /api/v1/${name}/forge`] },
      router: `import { writeFileSync } from 'node:fs';
export default (router) => {
  router.get('/forge', (req, res) => {
    try { writeFileSync(${JSON.stringify(target)}, '{"passed":true}'); res.json({ wrote: true }); }
    catch (e) { res.json({ wrote: false, code: String(e.code) }); }
  });
};`,
    });
    const k = await startKernel({ modulesDir, dataDir });
    await k.waitForState(name, 'running');
    const r = (await (await k.get(`/api/v1/${name}/forge`)).json()) as { wrote: boolean; code?: string };
    expect(r.wrote).toBe(false);
    expect(existsSync(target)).toBe(false);
  });
});

describe("a module's own tests are the module author's code", () => {
  it('run without root, without the operator\'s environment, and cannot write a pass record', async () => {
    const modulesDir = tempDir('modules');
    const dataDir = tempDir('data');
    const name = unique('walled');
    const victim = join(dataDir, 'tested', 'victim.json');
    const asRoot = process.getuid?.() === 0;
    writeTestedModule(modulesDir, name, {
      tests: {
        'wall.test.ts': `import { writeFileSync } from 'node:fs';
import { expect, test } from 'vitest';
test('the wall', () => {
  expect(process.env.DATABASE_URL).toBeUndefined();
  expect(process.env.HUB_ADMIN_TOKEN).toBeUndefined();
  expect(process.env.HUB_DATA_DIR).toBeUndefined();
  if (${asRoot}) expect(process.getuid()).not.toBe(0);
  let code = 'wrote';
  try { writeFileSync(${JSON.stringify(victim)}, '{"passed":true}'); } catch (e) { code = e.code; }
  if (${asRoot}) expect(code).toMatch(/EACCES|ENOENT|EPERM/);
});
`,
      },
    });
    const r = await hubctl(['test', name], { ...envFor(modulesDir, dataDir), HUB_ADMIN_TOKEN: 'operator-secret-0123456789abcdef' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(asRoot ? /✓ module tests .*1 test in 1 file, as uid \d+/ : /✓ module tests/);
    expect(existsSync(victim)).toBe(false);
    // the run's own record is written by hubctl, outside the tests' reach
    expect(JSON.parse(readFileSync(join(dataDir, 'tested', `${name}.json`), 'utf8')).passed).toBe(true);
  });
});

describe('an aborted hubctl test leaves nothing behind', () => {
  for (const signal of ['SIGINT', 'SIGKILL'] as const) {
    it(`${signal} while the real child runs: no database, role, process or temp folder remains`, async () => {
      const modulesDir = tempDir('modules');
      const name = unique('abort');
      writeTestedModule(modulesDir, name, { tests: { 'ok.test.ts': PASSING_TEST } });
      const proc = spawn(process.execPath, [HUBCTL, 'test', name], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...envFor(modulesDir, tempDir('data')) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
      proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
      const dbName = await waitFor(() => /✓ throwaway database \(\d+ ms\)  (hubtest_[0-9a-f]+)/.exec(out)?.[1], { timeoutMs: 60_000, what: 'the throwaway database line' });
      const marker = `/hubtest-${name}-`;
      // the run's own kernel is up (its HUB_MODULES_DIR is in the run's temp folder)
      await waitFor(() => processesMentioning(marker).length > 0, { timeoutMs: 60_000, what: 'the run\'s kernel' });
      expect((await leftovers(dbName, rolePrefixFor(dbName))).databases).toBe(1);
      proc.kill(signal);
      const code = await exited;
      if (signal === 'SIGINT') expect(code).toBe(130);
      await waitFor(async () => {
        const l = await leftovers(dbName, rolePrefixFor(dbName));
        return l.databases === 0 && l.roles === 0 && processesMentioning(marker).length === 0 && tempFoldersOf(name).length === 0;
      }, { timeoutMs: 30_000, what: `${dbName}, its roles, its processes and temp folders to be gone` });
    });
  }
});

describe('HUB_REQUIRE_TESTED', () => {
  it('refuses enable (API, CLI, boot) until the module passed, and again after an edit', async () => {
    const modulesDir = tempDir('modules');
    const dataDir = tempDir('data');
    const name = unique('gated');
    const dir = writeTestedModule(modulesDir, name, { tests: { 'ok.test.ts': PASSING_TEST } });
    const booted = unique('booted');
    writeTestedModule(modulesDir, booted, { enabled: true });
    const k = await startKernel({ modulesDir, dataDir, env: { HUB_REQUIRE_TESTED: 'true', HUB_ADMIN_TOKEN: 'gate-test-token-0123456789' } });
    // boot: the enabled module without a record does not start, and says why
    const rec = await k.waitForState(booted, 'failed');
    expect(rec.last_error).toMatch(new RegExp(`module ${booted} has never passed hubctl test and HUB_REQUIRE_TESTED is on; run: npx hubctl test ${booted}`));
    // API
    const refused = await k.admin(`/api/v1/modules/${name}/enable`, { method: 'POST' });
    expect(refused.status).toBe(409);
    const body = (await refused.json()) as { error: string; message: string };
    expect(body.error).toBe('module_untested');
    expect(body.message).toContain(`run: npx hubctl test ${name}`);
    // CLI, through the running hub
    const cliEnv = { HUB_URL: k.adminUrl, HUB_ADMIN_TOKEN: 'gate-test-token-0123456789', HUB_MODULES_DIR: modulesDir, HUB_DATA_DIR: dataDir };
    const cli = await hubctl(['enable', name], cliEnv);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain(`run: npx hubctl test ${name}`);
    // a passing run, then enable works
    const run = await hubctl(['test', name], envFor(modulesDir, dataDir));
    expect(run.code).toBe(0);
    const ok = await k.admin(`/api/v1/modules/${name}/enable`, { method: 'POST' });
    expect(ok.status).toBe(200);
    await k.waitForState(name, 'running');
    // edited after the run: untested again
    expect((await k.admin(`/api/v1/modules/${name}/disable`, { method: 'POST' })).status).toBe(200);
    appendFileSync(join(dir, 'backend', 'router.js'), '\n// edited\n');
    const again = await k.admin(`/api/v1/modules/${name}/enable`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { message: string }).message).toMatch(/was changed after it passed hubctl test/);
    await k.stop();
    // CLI with no hub running: the same refusal, module.json untouched
    const offline = await hubctl(['enable', name], { ...cliEnv, HUB_URL: `http://127.0.0.1:${await freePort()}`, HUB_REQUIRE_TESTED: 'true' });
    expect(offline.code).not.toBe(0);
    expect(offline.stderr).toContain(`run: npx hubctl test ${name}`);
    expect(JSON.parse(readFileSync(join(dir, 'module.json'), 'utf8')).enabled).toBe(false);
  });
});
