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
 * The module folder's content hash, 64 hex chars: like fingerprintFiles over listModuleFiles,
 * except that module.json's `enabled` does not count (see withoutSwitch).
 */
export async function moduleContentHash(moduleDir: string): Promise<string> {
  const h = createHash('sha256');
  for (const f of await listModuleFiles(moduleDir)) {
    const raw = await readFile(join(moduleDir, f));
    const content: Uint8Array = f === 'module.json' ? withoutSwitch(raw) : raw;
    h.update(`${f}\0${content.length}\0`);
    h.update(content);
  }
  return h.digest('hex');
}
