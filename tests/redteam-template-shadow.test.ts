// Red team: `hubctl test` also runs template folders (modules/_<name>), staged under the name
// their module.json gives. A template that names itself like a real module must not touch
// that module's tested record (HUB_DATA_DIR/tested/<name>.json): the kernel never loads a
// template, so a template's run is no verdict on any module the hub starts.
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertTested, readTestedRecord } from '../kernel/tested-records.js';
import { ADMIN_URL } from './helpers/database.js';
import { hubctl } from './helpers/hubctl.js';
import { PASSING_TEST, writeTestedModule } from './helpers/module-tests.js';
import { tempDir } from './helpers/modules.js';

describe('a template folder that shadows a module', () => {
  it("cannot overwrite the real module's passing record", async () => {
    const modulesDir = tempDir('modules');
    const dataDir = tempDir('data');
    const env = { HUB_MODULES_DIR: modulesDir, HUB_DATA_DIR: dataDir, DATABASE_URL: ADMIN_URL, NO_COLOR: '1' };
    const realDir = writeTestedModule(modulesDir, 'rtreal', { tests: { 'ok.test.ts': PASSING_TEST } });
    const first = await hubctl(['test', 'rtreal'], env);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    await expect(assertTested(dataDir, 'rtreal', realDir)).resolves.toBeUndefined();
    // modules/_rtshadow: a "template" whose module.json says it is rtreal, with a migration that fails
    const dir = writeTestedModule(tempDir('shadow-src'), 'rtreal', { migrations: { '001_init.sql': 'SELECT * FROM no_such_table;\n' } });
    cpSync(dir, join(modulesDir, '_rtshadow'), { recursive: true });
    writeFileSync(join(modulesDir, '_rtshadow', 'README'), 'shadow\n');
    const run = await hubctl(['test', '_rtshadow'], env);
    expect(run.code).toBe(1); // the shadow's migration fails: its run fails, and that is all it does
    expect(run.stdout).toMatch(/no_such_table/);
    await expect(assertTested(dataDir, 'rtreal', realDir)).resolves.toBeUndefined();
    expect((await readTestedRecord(dataDir, 'rtreal'))?.passed).toBe(true);
  });
});
