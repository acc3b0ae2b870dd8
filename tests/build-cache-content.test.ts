// Issue 14, item 8: the build cache is keyed on content. A router edit that keeps the file's
// size and restores its mtime runs after a module restart and after a kernel restart.
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

const modulesDir = tempDir('modules');
const dataDir = tempDir('data');
const routerOf = (v: string) => `export default (router: any) => {\n  router.get('/v', (_req: any, res: any) => res.json({ v: '${v}' }));\n};\n`;
let k: RunningKernel;
let file: string;
const STAMP = 1_700_000_000; // seconds

/** Rewrites the router with version `v`, keeping its size and its mtime. */
function sneakyEdit(v: string): void {
  const before = statSync(file);
  const text = routerOf(v);
  expect(Buffer.byteLength(text)).toBe(before.size);
  writeFileSync(file, text);
  utimesSync(file, STAMP, STAMP);
  expect(statSync(file).mtimeMs).toBe(before.mtimeMs);
  expect(readFileSync(file, 'utf8')).toContain(v);
}

beforeAll(async () => {
  const dir = writeModule(modulesDir, 'cached', { files: { 'backend/router.ts': routerOf('AAA') } });
  file = join(dir, 'backend', 'router.ts');
  utimesSync(file, STAMP, STAMP); // a whole second, so it can be restored exactly
  k = await startKernel({ modulesDir, dataDir });
});

afterAll(stopAllKernels);

describe('build cache keyed on content (item 8)', () => {
  it('same-size edit with the mtime restored: new code after a module restart', async () => {
    expect(await k.json('/api/v1/cached/v')).toEqual({ v: 'AAA' });
    sneakyEdit('BBB');
    expect((await k.admin('/api/v1/modules/cached/restart', { method: 'POST' })).status).toBeLessThan(300);
    await waitFor(async () => ((await k.json('/api/v1/cached/v')).v === 'BBB' ? true : undefined), { timeoutMs: 15_000, what: 'BBB served' });
  });

  it('and after a kernel restart', async () => {
    sneakyEdit('CCC');
    await k.stop();
    k = await startKernel({ modulesDir, dataDir });
    expect(await k.json('/api/v1/cached/v')).toEqual({ v: 'CCC' });
  });
});
