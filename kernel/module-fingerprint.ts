// What a module's content is, as one hash: every regular file of the module folder (relative
// path, length and bytes), not dotfiles (.vitest caches and the like), coverage/ or symlinks,
// and everything in the module's own node_modules/ (the child loads packages from there at
// run time). The compiler refuses an import of a module file outside this set
// (module-compiler.ts), so what a module runs is what the hash covers. The compiler keys its builds on it (module-compiler.ts) and `hubctl test` records
// its results against it (tested-records.ts), so a module edited after a passing run is
// untested again and a build is reused only for identical inputs.
import { createHash } from 'node:crypto';
import { readdir, readFile, readlink } from 'node:fs/promises';
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

/**
 * module.json without its `enabled` switch: enabling or disabling a module rewrites the file
 * (manifest-writer.ts) but changes nothing that was tested. Unparseable text stays as it is.
 */
function withoutSwitch(content: Buffer): Buffer {
  try {
    const m = JSON.parse(content.toString('utf8')) as unknown;
    if (!m || typeof m !== 'object' || Array.isArray(m)) return content;
    const { enabled: _switch, ...rest } = m as Record<string, unknown>;
    return Buffer.from(JSON.stringify(rest));
  } catch {
    return content;
  }
}

/**
 * Every entry under `dir` (the module's own node_modules), dotfiles included, as relative
 * paths (sorted): regular files, and symlinks (hashed by their target, not followed).
 */
async function listPackageEntries(dir: string, base: string): Promise<{ path: string; link: boolean }[]> {
  const out: { path: string; link: boolean }[] = [];
  for (const d of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...(await listPackageEntries(p, base)));
    else if (d.isFile() || d.isSymbolicLink()) out.push({ path: relative(base, p), link: d.isSymbolicLink() });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * The module folder's content hash, 64 hex chars: like fingerprintFiles over listModuleFiles,
 * except that module.json's `enabled` does not count (see withoutSwitch), plus every file
 * and symlink (its target) of the module's own node_modules/: packages the child loads at
 * run time are code the record must cover (a package edited after the run untests it).
 */
export async function moduleContentHash(moduleDir: string): Promise<string> {
  const h = createHash('sha256');
  for (const f of await listModuleFiles(moduleDir)) {
    const raw = await readFile(join(moduleDir, f));
    const content: Uint8Array = f === 'module.json' ? withoutSwitch(raw) : raw;
    h.update(`${f}\0${content.length}\0`);
    h.update(content);
  }
  for (const e of await listPackageEntries(join(moduleDir, 'node_modules'), moduleDir)) {
    const content = e.link ? Buffer.from(await readlink(join(moduleDir, e.path))) : await readFile(join(moduleDir, e.path));
    h.update(`${e.link ? 'link' : 'file'}\0${e.path}\0${content.length}\0`);
    h.update(content);
  }
  return h.digest('hex');
}
