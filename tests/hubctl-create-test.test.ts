// `hubctl create` writes a module whose own test (tests/<name>.test.ts, on bmc-hub/testing)
// passes as it is, and fails once the module breaks what it checks. The module's test runs in
// its own vitest process, rooted at the new module's folder, with `bmc-hub/testing` aliased to
// the hub's test kit, the way `hubctl test` runs module tests.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HUB_ROOT } from '../shared/paths.js';
import { ADMIN_URL } from './helpers/database.js';
import { hubctl } from './helpers/hubctl.js';
import { tempDir } from './helpers/modules.js';

const VITEST = join(HUB_ROOT, 'node_modules/vitest/vitest.mjs');

/** Runs the module's own tests with vitest; resolves with the exit code and all output. */
function runModuleTests(moduleDir: string, configDir: string): Promise<{ code: number | null; out: string }> {
  const config = join(configDir, 'vitest.module.config.mjs');
  writeFileSync(
    config,
    // cacheDir outside the module: vite's default (<root>/node_modules/.vite) would put a
    // node_modules folder into the module, which the kernel would then link for its packages
    `export default { resolve: { alias: { 'bmc-hub/testing': ${JSON.stringify(join(HUB_ROOT, 'shared/testing/index.ts'))} } },
      cacheDir: ${JSON.stringify(join(configDir, 'vite-cache'))},
      test: { include: ['tests/**/*.test.ts'], testTimeout: 60000, hookTimeout: 120000 } };\n`,
  );
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [VITEST, 'run', '--root', moduleDir, '--config', config], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', DATABASE_URL: ADMIN_URL, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => resolve({ code, out }));
  });
}

describe('hubctl create writes a module with a passing test', () => {
  it('the new module\'s tests/<name>.test.ts passes, and fails when the module breaks', async () => {
    const modulesDir = tempDir('create-modules');
    const created = await hubctl(['create', 'shop_items', 'Items in the shop'], { HUB_MODULES_DIR: modulesDir });
    expect(created.code, created.stderr).toBe(0);
    const moduleDir = join(modulesDir, 'shop_items');
    const testFile = join(moduleDir, 'tests', 'shop_items.test.ts');
    expect(existsSync(testFile)).toBe(true);
    const text = readFileSync(testFile, 'utf8');
    expect(text).toContain("from 'bmc-hub/testing'");
    expect(text).toContain('shop_items.editor');
    expect(text).toContain('shopitems_items');
    expect(text).not.toMatch(/template/);

    const pass = await runModuleTests(moduleDir, tempDir('create-config'));
    expect(pass.code, pass.out).toBe(0);
    expect(pass.out).toMatch(/Tests\s+3 passed/);

    // the test checks what the module does: a module that answers 200 instead of 201 fails it
    const router = join(moduleDir, 'backend', 'router.ts');
    writeFileSync(router, readFileSync(router, 'utf8').replace('res.status(201)', 'res.status(200)'));
    const fail = await runModuleTests(moduleDir, tempDir('create-config'));
    expect(fail.code, fail.out).not.toBe(0);
    expect(fail.out).toMatch(/an editor creates an item/);
    expect(fail.out).toMatch(/expected 200 to be 201/);
    expect(existsSync(join(moduleDir, 'node_modules'))).toBe(false);
  });

  it('hubctl test runs a module that names itself to startModule, from a modules folder outside the hub', async () => {
    const modulesDir = tempDir('by-name-modules');
    const created = await hubctl(['create', 'desk_items', 'Items on the desk'], { HUB_MODULES_DIR: modulesDir });
    expect(created.code, created.stderr).toBe(0);
    // the author's own style: the module by its name, not by its path
    const testFile = join(modulesDir, 'desk_items', 'tests', 'desk_items.test.ts');
    const byName = readFileSync(testFile, 'utf8').replace("startModule(fileURLToPath(new URL('..', import.meta.url)),", "startModule('desk_items',");
    expect(byName).toContain("startModule('desk_items',");
    writeFileSync(testFile, byName);
    const run = await hubctl(['test', 'desk_items', '--json'], { HUB_MODULES_DIR: modulesDir, HUB_DATA_DIR: tempDir('data'), DATABASE_URL: ADMIN_URL, NO_COLOR: '1' });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { modules: { module: string; passed: boolean; checks: { name: string; status: string; message?: string }[] }[] };
    const tests = report.modules[0]!.checks.find((c) => c.name.startsWith('module tests'));
    expect(tests?.status, JSON.stringify(tests)).toBe('pass');
  });
});
