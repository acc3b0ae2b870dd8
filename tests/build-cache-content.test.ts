// Issue 14, item 8: the build cache is keyed on content. A router edit that keeps the file's
// size and restores its mtime runs after a module restart and after a kernel restart.
import { existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileModule } from '../kernel/module-compiler.js';
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

describe('a file edited while the module compiles (item 8 through another door)', () => {
  it('the build is not kept under the old text\'s key: after the text comes back, the old text is what is served', async () => {
    const dir = writeModule(tempDir('modules'), 'racy', {
      files: {
        // a big bundle keeps esbuild busy long enough for the edit to land mid-build
        'backend/big.js': `export const big = [${Array.from({ length: 200_000 }, (_, i) => i).join(',')}];\n`,
        'backend/router.js': "import { big } from './big.js';\nexport default (router) => { router.get('/n', (_req, res) => res.json({ n: big.length })); };\n",
        'views/page.html': '<p>AAA</p>\n',
      },
    });
    const data = tempDir('data');
    const page = join(dir, 'views', 'page.html');
    const root = join(data, 'build', 'racy');
    // edit page.html the moment the build folder appears, while esbuild is still bundling
    let edited = false;
    const poll = setInterval(() => {
      if (!edited && existsSync(root) && readdirSync(root).length > 0) {
        writeFileSync(page, '<p>BBB</p>\n');
        edited = true;
      }
    }, 1);
    let first: string;
    try {
      first = await compileModule('racy', dir, data);
    } finally {
      clearInterval(poll);
    }
    expect(edited).toBe(true);
    // what the build holds is the text of its key
    expect(readFileSync(join(first, 'views', 'page.html'), 'utf8')).toBe('<p>BBB</p>\n');
    // the text comes back: its build is the old text, not the edit
    writeFileSync(page, '<p>AAA</p>\n');
    const again = await compileModule('racy', dir, data);
    expect(readFileSync(join(again, 'views', 'page.html'), 'utf8')).toBe('<p>AAA</p>\n');
  });
});
