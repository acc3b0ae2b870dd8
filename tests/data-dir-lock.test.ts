// One kernel per data folder: a second hub started on a running hub's HUB_DATA_DIR (the
// README's "restart with writes on" line, typed while the first still runs) must refuse at
// once and leave the first hub's embedded database alone.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lockDataDir } from '../kernel/data-dir-lock.js';
import { startKernel, stopAllKernels } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';

const dirs: string[] = [];
const dir = (p: string) => {
  const d = tempDir(p);
  dirs.push(d);
  return d;
};

afterAll(async () => {
  await stopAllKernels();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('the data folder lock', () => {
  it('refuses a second holder while the first lives, and frees on release', () => {
    const data = dir('lock');
    const first = lockDataDir(data); // this test process: alive
    expect(() => lockDataDir(data, 1)).toThrow(/another hub \(pid \d+\) is running on .*stop it first/);
    first.release();
    const second = lockDataDir(data, 1);
    second.release();
  });

  it('takes over the lock of a kernel that is gone', () => {
    const data = dir('lock');
    writeFileSync(join(data, 'kernel.lock'), '999999 12345\n');
    const lock = lockDataDir(data);
    lock.release();
  });

  it('keeps the running hub and its embedded database when a second one starts on its folder', async () => {
    const modulesDir = dir('lock-modules');
    writeModule(modulesDir, 'ledger', {
      router: `export default (router, ctx) => { router.get('/now', async (req, res) => res.json(await ctx.db.one('SELECT 1 AS one'))); };`,
    });
    const dataDir = dir('lock-data');
    const a = await startKernel({ modulesDir, dataDir, embedded: true });
    expect((await a.get('/api/v1/ledger/now')).status).toBe(200);

    const second = startKernel({ modulesDir, dataDir, embedded: true });
    await expect(second).rejects.toThrow(/another hub \(pid \d+\) is running on/);

    // the first hub's database is still there
    const after = await a.get('/api/v1/ledger/now');
    expect(after.status).toBe(200);
    expect(await after.json()).toEqual({ one: 1 });
    expect((await a.json('/health')).status).toBe('ok');
  });
});
