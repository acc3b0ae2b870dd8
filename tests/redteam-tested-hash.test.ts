// Red team (issue 16): code a module runs must be code its `hubctl test` record covers. The
// record is keyed on moduleContentHash, which leaves out dotfiles, symlinks and node_modules;
// if the compiler or the child loads any of those, a module can pass the test and then change
// what runs without becoming untested (HUB_REQUIRE_TESTED would let it start).
// Property checked for each hiding place: after editing the hidden file, either the hash
// differs (the gate notices) or the real compiler refuses to build the module.
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileModule } from '../kernel/module-compiler.js';
import { moduleContentHash } from '../kernel/module-fingerprint.js';
import { readMigrationDir } from '../kernel/migration-files.js';
import { scanModules } from '../kernel/registry.js';
import { tempDir } from './helpers/modules.js';

function moduleFolder(name: string): string {
  const dir = join(tempDir('rt-hash'), name);
  mkdirSync(join(dir, 'backend'), { recursive: true });
  writeFileSync(join(dir, 'module.json'), JSON.stringify({ name, version: '1.0.0', enabled: false, table_prefix: `${name}_`, api_prefix: `/api/${name}` }, null, 2));
  return dir;
}

/** True when the edit is caught: the hash moved, or the module does not compile at all. */
async function editCaught(dir: string, name: string, edit: () => void): Promise<boolean> {
  const before = await moduleContentHash(dir);
  edit();
  if ((await moduleContentHash(dir)) !== before) return true;
  try {
    await compileModule(name, dir, tempDir('rt-hash-data'));
    return false;
  } catch (e) {
    return (e as { code?: string }).code === 'start_failed';
  }
}

describe('what a module runs is what its tested hash covers', () => {
  it('a router importing a dotfile: the edited dotfile is caught', async () => {
    const dir = moduleFolder('dotimp');
    writeFileSync(join(dir, 'backend', '.impl.ts'), 'export const who = "tested";\n');
    writeFileSync(join(dir, 'backend', 'router.ts'), 'import { who } from "./.impl.js";\nexport default () => who;\n');
    expect(await editCaught(dir, 'dotimp', () => writeFileSync(join(dir, 'backend', '.impl.ts'), 'export const who = "evil";\n'))).toBe(true);
  });

  it('a router that is a symlink to a dotfile: the edited target is caught', async () => {
    const dir = moduleFolder('symimp');
    writeFileSync(join(dir, 'backend', '.real.ts'), 'export default () => "tested";\n');
    symlinkSync('.real.ts', join(dir, 'backend', 'router.ts'));
    expect(await editCaught(dir, 'symimp', () => writeFileSync(join(dir, 'backend', '.real.ts'), 'export default () => "evil";\n'))).toBe(true);
  });

  it('a router importing a file under coverage/: the edited file is caught', async () => {
    const dir = moduleFolder('covimp');
    mkdirSync(join(dir, 'coverage'));
    writeFileSync(join(dir, 'coverage', 'impl.ts'), 'export const who = "tested";\n');
    writeFileSync(join(dir, 'backend', 'router.ts'), 'import { who } from "../coverage/impl.js";\nexport default () => who;\n');
    expect(await editCaught(dir, 'covimp', () => writeFileSync(join(dir, 'coverage', 'impl.ts'), 'export const who = "evil";\n'))).toBe(true);
  });

  it('a migration that is a symlink to a dotfile: the edited SQL is caught (hash, or the migrator refuses the link)', async () => {
    const dir = moduleFolder('symmig');
    writeFileSync(join(dir, 'backend', 'router.ts'), 'export default () => "ok";\n');
    mkdirSync(join(dir, 'migrations'));
    writeFileSync(join(dir, '.real.sql'), 'CREATE TABLE symmig_items (id int);\n');
    symlinkSync('../.real.sql', join(dir, 'migrations', '001_init.sql'));
    const before = await moduleContentHash(dir);
    writeFileSync(join(dir, '.real.sql'), 'DROP TABLE IF EXISTS hub_users;\n');
    const refused = await readMigrationDir(join(dir, 'migrations')).then(() => false, (e: { code?: string }) => e.code === 'migration_failed');
    expect((await moduleContentHash(dir)) !== before || refused).toBe(true);
  });

  it('a migrations folder that is a symlink to a dot folder: caught the same way', async () => {
    const dir = moduleFolder('symdir');
    writeFileSync(join(dir, 'backend', 'router.ts'), 'export default () => "ok";\n');
    mkdirSync(join(dir, '.migs'));
    writeFileSync(join(dir, '.migs', '001_init.sql'), 'CREATE TABLE symdir_items (id int);\n');
    symlinkSync('.migs', join(dir, 'migrations'));
    const before = await moduleContentHash(dir);
    writeFileSync(join(dir, '.migs', '001_init.sql'), 'DROP TABLE IF EXISTS hub_users;\n');
    const refused = await readMigrationDir(join(dir, 'migrations')).then(() => false, (e: { code?: string }) => e.code === 'migration_failed');
    expect((await moduleContentHash(dir)) !== before || refused).toBe(true);
  });

  it('a module.json that is a symlink to a dotfile: the edited manifest is caught (hash, or discovery refuses the link)', async () => {
    const dir = moduleFolder('symman');
    writeFileSync(join(dir, 'backend', 'router.ts'), 'export default () => "ok";\n');
    const manifest = readFileSync(join(dir, 'module.json'), 'utf8');
    rmSync(join(dir, 'module.json'));
    writeFileSync(join(dir, '.real.json'), manifest);
    symlinkSync('.real.json', join(dir, 'module.json'));
    const before = await moduleContentHash(dir);
    writeFileSync(join(dir, '.real.json'), manifest.replace('"symman_"', '"other_"'));
    const entry = (await scanModules(dirname(dir), '1.0.0')).find((e) => e.name === 'symman');
    expect(entry?.error?.message ?? 'no error').not.toMatch(/version|api_prefix/); // the manifest itself is fine
    expect((await moduleContentHash(dir)) !== before || entry?.error?.code === 'manifest_invalid').toBe(true);
  });

  it("a package in the module's own node_modules (the child resolves it at run time): an edit changes the hash", async () => {
    const dir = moduleFolder('pkgimp');
    mkdirSync(join(dir, 'node_modules', 'helper'), { recursive: true });
    writeFileSync(join(dir, 'node_modules', 'helper', 'package.json'), JSON.stringify({ name: 'helper', type: 'module', main: 'index.js' }));
    writeFileSync(join(dir, 'node_modules', 'helper', 'index.js'), 'export const who = "tested";\n');
    writeFileSync(join(dir, 'backend', 'router.ts'), 'import { who } from "helper";\nexport default () => who;\n');
    const before = await moduleContentHash(dir);
    writeFileSync(join(dir, 'node_modules', 'helper', 'index.js'), 'export const who = "evil";\n');
    expect(await moduleContentHash(dir)).not.toBe(before);
  });
});
