// Writes module folders for tests: a manifest plus plain-JS router/views/migrations.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface FixtureModule {
  manifest?: Record<string, unknown>;
  /** Raw module.json text, for broken-manifest cases (wins over manifest). */
  manifestText?: string;
  /** Body of backend/router.js: `export default (router, ctx) => { ... }`. */
  router?: string;
  views?: string;
  files?: Record<string, string>;
}

const made: string[] = [];

/** A fresh folder under the OS temp dir; removed after the test file by removeTempDirs (tests/helpers/setup.ts). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `hub-${prefix}-`));
  made.push(dir);
  return dir;
}

/** Removes every folder tempDir made in this process so far (module sources, data folders, embedded databases). */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function manifestFor(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    version: '1.0.0',
    description: `test module ${name}`,
    enabled: true,
    table_prefix: `${name.replace(/_/g, '')}_`,
    api_prefix: `/api/v1/${name}`,
    tags: [name],
    ...extra,
  };
}

export function writeModule(modulesDir: string, folder: string, m: FixtureModule = {}): string {
  const dir = join(modulesDir, folder);
  mkdirSync(dir, { recursive: true });
  const text = m.manifestText ?? JSON.stringify(manifestFor(folder, m.manifest), null, 2);
  writeFileSync(join(dir, 'module.json'), text);
  const files: Record<string, string> = { ...m.files };
  if (m.router !== undefined) files['backend/router.js'] = m.router;
  if (m.views !== undefined) files['frontend/views.js'] = m.views;
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  return dir;
}

/** A router that answers GET /hello with the module's name and pid. */
export const helloRouter = `export default (router, ctx) => {
  router.get('/hello', (req, res) => res.json({ module: ctx.name, pid: process.pid }));
};`;
