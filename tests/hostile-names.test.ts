// Fifty hostile module names through hubctl (enable, create, logs) and the admin API: each is
// refused with a clear error, and nothing is written anywhere: the modules folder, its parent
// and its siblings are byte-for-byte as before. A symlinked module folder that points outside
// the modules folder is refused too, and the file it points at stays untouched.
import { mkdirSync, readdirSync, readFileSync, lstatSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from './helpers/http.js';
import { hubctl } from './helpers/hubctl.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, manifestFor, tempDir, writeModule } from './helpers/modules.js';
import { freePort } from './helpers/ports.js';

const HOSTILE: string[] = [
  // traversal, raw and encoded
  '../../etc', '..', '.', '../outside', 'notes/../../etc', '..%2f..%2fetc', '%2e%2e%2f', '%2e%2e', '..\\..\\windows',
  'a/../b', 'notes/', './notes', 'notes/.', '%252e%252e%252f', '....//....//etc',
  // absolute paths
  '/etc/passwd', '/tmp/x', 'C:\\Windows', '\\\\server\\share', '~/evil', '~root',
  // NUL and control characters
  'notes\u0000', 'a\u0000../../etc', 'no\ntes', 'tab\tname', 'esc\u001b[31m',
  // unicode look-alikes and invisibles
  'nоtes', 'аpi_module', 'nοtes', 'not\u200bes', 'ｎｏｔｅｓ', 'noteѕ', 'caf\u00e9', 'notes\u00a0',
  // case, length, emptiness, leading characters
  'Notes', 'NOTES', 'a'.repeat(41), 'x'.repeat(300), '', ' ', 'n', '1notes', '_template', '_hidden', '.hidden', '-rf',
  // reserved for the kernel's own routes
  'api', 'health', 'metrics', 'admin',
  // shell and URL specials
  'notes;rm -rf', 'a b', 'notes?x=1', 'notes#frag', 'a*b', '$(id)',
];

/** Every path under root with its type, size and content hash stand-in (mtime + size). */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = lstatSync(p);
      out[p] = `${st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'f'} ${st.size} ${st.mtimeMs}`;
      if (st.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

let root: string;
let modulesDir: string;
let outsideDir: string;
let k: RunningKernel;
let env: Record<string, string>;

beforeAll(async () => {
  expect(HOSTILE.length).toBeGreaterThanOrEqual(50);
  root = tempDir('hostile');
  modulesDir = join(root, 'modules');
  outsideDir = join(root, 'outside');
  mkdirSync(modulesDir);
  mkdirSync(outsideDir);
  writeModule(modulesDir, 'notes', { router: helloRouter });
  // a module folder that is a symlink to a folder outside the modules folder
  const escaped = join(outsideDir, 'escaped');
  mkdirSync(escaped);
  writeFileSync(join(escaped, 'module.json'), JSON.stringify(manifestFor('evil', { enabled: false }), null, 2));
  symlinkSync(escaped, join(modulesDir, 'evil'));
  // the data folder lives elsewhere: logs of real modules are allowed to be written
  k = await startKernel({ modulesDir, dataDir: tempDir('data') });
  env = { HUB_URL: k.adminUrl, HUB_ADMIN_TOKEN: k.adminToken()!, HUB_MODULES_DIR: modulesDir };
});

afterAll(stopAllKernels);

describe('hostile module names', () => {
  it('are refused by hubctl enable, create and logs before anything is touched', async () => {
    const before = snapshot(root);
    // argv cannot carry NUL bytes: those go through the API below
    const runs = HOSTILE.filter((n) => !n.includes('\u0000')).flatMap((name) =>
      [['enable', '--', name], ['create', '--', name, 'Hostile'], ['logs', '--', name]]);
    // a few at a time: each run is a node process start
    for (let i = 0; i < runs.length; i += 4) {
      await Promise.all(runs.slice(i, i + 4).map(async (args) => {
        const r = await hubctl(args, env, root);
        expect(r.code, `hubctl ${args.join(' ')}: ${r.stderr}${r.stdout}`).toBe(2);
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(/^hubctl: (invalid module name|module name .* is reserved)[^\n]*\n$/);
      }));
    }
    expect(snapshot(root)).toEqual(before);
  }, 240_000);

  it('are refused by the admin API with a JSON error', async () => {
    const before = snapshot(root);
    for (const name of HOSTILE) {
      const paths = [encodeURIComponent(name), name.replace(/[^\x21-\x7e]|[?#]/g, (c) => encodeURIComponent(c))];
      for (const p of paths) {
        for (const [method, suffix] of [['POST', '/enable'], ['POST', '/disable'], ['POST', '/restart'], ['GET', '/logs?lines=5']]) {
          const res = await rawRequest({ method: method!, port: k.adminPort, path: `/api/v1/modules/${p}${suffix}`, headers: { authorization: `Bearer ${k.adminToken()}` } });
          const what = `${method} /api/v1/modules/${p}${suffix} → ${res.status} ${JSON.stringify(res.body)}`;
          expect([400, 404], what).toContain(res.status);
          expect(res.body, what).toMatchObject({ error: expect.any(String), message: expect.any(String) });
        }
      }
    }
    expect(snapshot(root)).toEqual(before);
    // the hub is unharmed
    expect((await k.record('notes')).state).toBe('running');
  });

  it('refuses a module folder that is a symlink out of the modules folder', async () => {
    const before = snapshot(root);
    const api = await k.admin('/api/v1/modules/evil/enable', { method: 'POST' });
    expect(api.status).toBe(403);
    expect(await api.json()).toMatchObject({ error: 'forbidden', message: expect.stringMatching(/outside the modules folder/) });
    // with no hub, hubctl edits module.json itself: it must refuse the same folder
    const offline = await hubctl(['enable', 'evil'], { ...env, HUB_URL: `http://127.0.0.1:${await freePort()}` }, root);
    expect(offline.code).not.toBe(0);
    expect(offline.stderr).toMatch(/^hubctl: .*outside the modules folder.*\n$/);
    expect(JSON.parse(readFileSync(join(outsideDir, 'escaped', 'module.json'), 'utf8')).enabled).toBe(false);
    expect(snapshot(root)).toEqual(before);
  });
});
