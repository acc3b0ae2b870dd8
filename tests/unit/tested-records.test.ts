// kernel/tested-records.ts and module-fingerprint.ts: the HUB_REQUIRE_TESTED gate's verdicts.
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { moduleContentHash } from '../../kernel/module-fingerprint.js';
import { assertTested, testedRecordFile, writeTestedRecord } from '../../kernel/tested-records.js';
import { tempDir } from '../helpers/modules.js';

function moduleFolder(): string {
  const dir = join(tempDir('mod'), 'gated');
  mkdirSync(join(dir, 'backend'), { recursive: true });
  writeFileSync(join(dir, 'module.json'), JSON.stringify({ name: 'gated', enabled: false, table_prefix: 'gated_' }, null, 2));
  writeFileSync(join(dir, 'backend', 'router.js'), 'export default () => {};\n');
  return dir;
}

const record = async (dir: string, passed: boolean) => ({ module: 'gated', hash: await moduleContentHash(dir), passed, at: '2026-01-01T00:00:00.000Z', hub_version: 'x', checks: [] });

describe('the HUB_REQUIRE_TESTED gate', () => {
  it('refuses without a record, after a failed run and after an edit; accepts a passing run of this content', async () => {
    const dir = moduleFolder();
    const data = tempDir('data');
    await expect(assertTested(data, 'gated', dir)).rejects.toMatchObject({ code: 'module_untested', message: 'module gated has never passed hubctl test and HUB_REQUIRE_TESTED is on; run: npx hubctl test gated' });
    await writeTestedRecord(data, await record(dir, false));
    await expect(assertTested(data, 'gated', dir)).rejects.toMatchObject({ message: expect.stringMatching(/failed hubctl test at/) });
    await writeTestedRecord(data, await record(dir, true));
    await expect(assertTested(data, 'gated', dir)).resolves.toBeUndefined();
    expect(statSync(testedRecordFile(data, 'gated')).mode & 0o777).toBe(0o600);
    expect(statSync(join(data, 'tested')).mode & 0o777).toBe(0o700);
    writeFileSync(join(dir, 'backend', 'router.js'), 'export default () => { /* changed */ };\n');
    await expect(assertTested(data, 'gated', dir)).rejects.toMatchObject({ message: expect.stringMatching(/was changed after it passed hubctl test/) });
  });

  it("does not count module.json's enabled switch or dotfiles in the hash; counts the module's own node_modules", async () => {
    const dir = moduleFolder();
    const before = await moduleContentHash(dir);
    writeFileSync(join(dir, 'module.json'), JSON.stringify({ name: 'gated', enabled: true, table_prefix: 'gated_' }, null, 2));
    writeFileSync(join(dir, '.cache'), '1');
    expect(await moduleContentHash(dir)).toBe(before);
    // a package the child loads at run time is code the record covers
    mkdirSync(join(dir, 'node_modules', 'x'), { recursive: true });
    writeFileSync(join(dir, 'node_modules', 'x', 'index.js'), '1');
    expect(await moduleContentHash(dir)).not.toBe(before);
    rmSync(join(dir, 'node_modules'), { recursive: true });
    expect(await moduleContentHash(dir)).toBe(before);
    writeFileSync(join(dir, 'module.json'), JSON.stringify({ name: 'gated', enabled: true, table_prefix: 'other_' }, null, 2));
    expect(await moduleContentHash(dir)).not.toBe(before);
  });
});
