// What a module's content is, as one hash: every regular file of the module folder (relative
// path, length and bytes), not node_modules, dotfiles (.vitest caches and the like) or
// symlinks. The compiler keys its builds on it (module-compiler.ts) and `hubctl test` records
// its results against it (tested-records.ts), so a module edited after a passing run is
// untested again and a build is reused only for identical inputs.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** Folders that hold what tools wrote, not the module's content. */
const SKIPPED_DIRS = new Set(['node_modules', 'coverage']);

/** Every regular file of the module (relative paths, sorted), not node_modules, coverage, dotfiles or symlinks. */
export async function listModuleFiles(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (d.name.startsWith('.') || (d.isDirectory() && SKIPPED_DIRS.has(d.name))) continue;
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...(await listModuleFiles(p, base)));
    else if (d.isFile()) out.push(relative(base, p));
  }
  return out.sort();
}

/** sha256 (hex, 64 chars) over `files` of `moduleDir`: each file's relative name, length and bytes. */
export async function fingerprintFiles(moduleDir: string, files: string[]): Promise<string> {
  const h = createHash('sha256');
  for (const f of files) {
    const content = await readFile(join(moduleDir, f));
    h.update(`${f}\0${content.length}\0`);
    h.update(content);
  }
  return h.digest('hex');
}

/** The module folder's content hash (fingerprintFiles over listModuleFiles), 64 hex chars. */
export async function moduleContentHash(moduleDir: string): Promise<string> {
  return fingerprintFiles(moduleDir, await listModuleFiles(moduleDir));
}
