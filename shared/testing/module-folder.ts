// The modules folder a test kernel sees: a temp folder holding copies of the module under test
// and the modules it needs, nothing else. Copies, not symlinks: the kernel refuses a module
// folder that links outside its modules folder (kernel/registry.ts), and it compiles each
// module from its real path. A module's tests/ folder, dot files and a node_modules that holds
// only caches are left out.
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface StagedModule {
  /** The module's name from its module.json (also its folder name in the staged folder). */
  name: string;
  apiPrefix: string;
  tablePrefix: string;
  /** Where it was copied from. */
  source: string;
}

interface ManifestBits {
  name?: unknown;
  api_prefix?: unknown;
  table_prefix?: unknown;
  dependencies?: unknown;
}

function readManifest(dir: string): ManifestBits {
  const file = join(dir, 'module.json');
  if (!existsSync(file)) throw new Error(`bmc-hub/testing: ${file} not found; startModule needs a module folder (one with a module.json)`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ManifestBits;
  } catch (e) {
    throw new Error(`bmc-hub/testing: ${file} is not valid JSON (${(e as Error).message}); fix the file`);
  }
}

/**
 * A node_modules folder holding nothing but dot entries (vite's and vitest's caches, which a
 * test run rooted at the module writes there): copying it would hide the hub's packages from
 * the module, since the kernel links the nearest node_modules above a module for its build.
 */
function cacheOnly(path: string): boolean {
  if (basename(path) !== 'node_modules') return false;
  try {
    return readdirSync(path).every((n) => n.startsWith('.'));
  } catch {
    return false;
  }
}

/** "billing" or "billing@^1.2.0" → "billing". */
const dependencyName = (d: string): string => d.split('@')[0]!;

/**
 * Copies the module in `modulesDir/<folder>` (or the folder `folder` itself when it is a path
 * to one), each of its dependencies (module.json "dependencies", found as folders of the same
 * name in `modulesDir`, recursively) and each folder in `extra` into `target`, every copy under
 * its module name and switched on (`enabled: true`, so a template that ships disabled runs).
 * Returns the module under test first. Throws one line naming a missing folder or manifest.
 */
export function stageModules(modulesDir: string, folder: string, extra: string[], target: string): StagedModule[] {
  const staged = new Map<string, StagedModule>();
  const stage = (src: string): StagedModule => {
    const manifest = readManifest(src);
    const name = typeof manifest.name === 'string' ? manifest.name : basename(src);
    const known = staged.get(name);
    if (known) return known;
    const dest = join(target, name);
    cpSync(src, dest, {
      recursive: true,
      dereference: true,
      filter: (from) => from === src || !(from === join(src, 'tests') || basename(from).startsWith('.') || cacheOnly(from)),
    });
    writeFileSync(join(dest, 'module.json'), JSON.stringify({ ...manifest, enabled: true }, null, 2));
    const entry: StagedModule = {
      name,
      apiPrefix: String(manifest.api_prefix ?? ''),
      tablePrefix: String(manifest.table_prefix ?? ''),
      source: src,
    };
    staged.set(name, entry);
    const deps = Array.isArray(manifest.dependencies) ? manifest.dependencies.filter((d): d is string => typeof d === 'string') : [];
    for (const dep of deps) stage(folderOf(modulesDir, dependencyName(dep), `a dependency of ${name}`));
    return entry;
  };
  const main = stage(folderOf(modulesDir, folder, 'the module to test'));
  for (const other of extra) stage(folderOf(modulesDir, other, '`with`'));
  return [main, ...[...staged.values()].filter((m) => m !== main)];
}

function folderOf(modulesDir: string, nameOrPath: string, what: string): string {
  const dir = nameOrPath.includes('/') ? nameOrPath : join(modulesDir, nameOrPath);
  if (!existsSync(join(dir, 'module.json'))) {
    throw new Error(`bmc-hub/testing: no module folder ${dir} (${what}); pass modulesDir, or the module's folder path`);
  }
  return dir;
}
