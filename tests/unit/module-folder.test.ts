// shared/testing/module-folder.ts: what startModule copies into a test kernel's modules folder.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stageModules } from '../../shared/testing/module-folder.js';
import { tempDir, writeModule } from '../helpers/modules.js';

describe('stageModules', () => {
  it('copies the module, its dependencies (recursively) and `with`, each enabled, without tests or cache folders', () => {
    const src = tempDir('stage-src');
    writeModule(src, 'leaf', { manifest: { enabled: false } });
    writeModule(src, 'mid', { manifest: { dependencies: ['leaf@^1.0.0'] }, files: { 'node_modules/pkg/index.js': 'x' } });
    writeModule(src, 'top', {
      manifest: { dependencies: ['mid'], enabled: false },
      files: { 'tests/top.test.ts': 'x', 'node_modules/.vite/results.json': '{}', '.env': 'secret', 'backend/router.js': 'x' },
    });
    writeModule(src, 'side', {});
    writeModule(src, 'unrelated', {});
    const out = tempDir('stage-out');
    const staged = stageModules(src, 'top', ['side'], out);
    expect(staged.map((m) => m.name)).toEqual(['top', 'mid', 'leaf', 'side']);
    expect(staged[0]).toMatchObject({ name: 'top', apiPrefix: '/api/v1/top', tablePrefix: 'top_' });
    expect(existsSync(join(out, 'unrelated'))).toBe(false);
    for (const name of ['top', 'mid', 'leaf', 'side']) expect(JSON.parse(readFileSync(join(out, name, 'module.json'), 'utf8')).enabled).toBe(true);
    expect(existsSync(join(out, 'top', 'backend', 'router.js'))).toBe(true);
    expect(existsSync(join(out, 'top', 'tests'))).toBe(false);
    expect(existsSync(join(out, 'top', 'node_modules'))).toBe(false);
    expect(existsSync(join(out, 'top', '.env'))).toBe(false);
    // a node_modules with packages in it is the module's own and is kept
    expect(existsSync(join(out, 'mid', 'node_modules', 'pkg', 'index.js'))).toBe(true);
  });

  it('copies a folder given by path under its manifest name', () => {
    const src = tempDir('stage-src');
    const dir = writeModule(src, '_tpl', { manifest: { name: 'tpl_module' } });
    const out = tempDir('stage-out');
    expect(stageModules(src, dir, [], out).map((m) => m.name)).toEqual(['tpl_module']);
    expect(existsSync(join(out, 'tpl_module', 'module.json'))).toBe(true);
  });

  it('names a missing module, dependency or manifest in one line', () => {
    const src = tempDir('stage-src');
    writeModule(src, 'needy', { manifest: { dependencies: ['ghost'] } });
    writeModule(src, 'bad', { manifestText: '{ nope' });
    const out = tempDir('stage-out');
    expect(() => stageModules(src, 'nosuch', [], out)).toThrow(/no module folder .*nosuch \(the module to test\)/);
    expect(() => stageModules(src, 'needy', [], tempDir('stage-out'))).toThrow(/no module folder .*ghost \(a dependency of needy\)/);
    expect(() => stageModules(src, 'bad', [], tempDir('stage-out'))).toThrow(/bad\/module\.json is not valid JSON/);
  });
});
