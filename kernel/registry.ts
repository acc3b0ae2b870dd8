// Discovery and validation of modules/<name>/module.json. Each folder becomes an entry;
// a bad one carries its error instead of a manifest, so it stays visible (state failed,
// last_error) while every other module goes on. Cross-module rules live in registry-rules.ts.
import { lstat, readdir, readFile, readlink, realpath } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Manifest } from '../shared/manifest.js';
import { parseManifest } from '../shared/manifest.js';
import { HubError, toHubError } from '../shared/errors.js';
import { envName, isValidModuleName } from '../shared/names.js';
import { applyCrossModuleRules, type Holdings } from './registry-rules.js';
import type { ModuleEntry } from './module-entry.js';

export type { ModuleEntry } from './module-entry.js';

/** Folders the kernel never loads: the template and anything hidden. */
export function isIgnoredFolder(name: string): boolean {
  return name.startsWith('_') || name.startsWith('.');
}

async function readEntry(modulesDir: string, realModulesDir: string, folder: string): Promise<ModuleEntry> {
  const dir = join(modulesDir, folder);
  const entry: ModuleEntry = { name: folder, dir, manifest: null, warnings: [], error: null };
  const where = `modules/${folder}/module.json`;
  try {
    if (!isValidModuleName(folder)) {
      throw new HubError('invalid_name', `folder "${folder}" is not a valid module name (^[a-z][a-z0-9_]{1,39}$, not reserved); rename the folder`);
    }
    const stat = await lstat(dir);
    if (stat.isSymbolicLink()) {
      const target = await realpath(dir);
      if (!target.startsWith(realModulesDir + sep)) {
        throw new HubError('forbidden', `modules/${folder} is a symlink to ${target}, outside the modules folder; move the module into the modules folder`);
      }
    }
    const leak = await linkLeavingFolder(await realpath(dir));
    if (leak) {
      throw new HubError('forbidden', `modules/${folder}/${leak.link} is a symlink to ${leak.target}, outside the module's folder; a module may link only to its own files`);
    }
    // the tested content hash (module-fingerprint.ts) does not follow links: a linked
    // module.json could change after `hubctl test` without untesting the module
    if ((await lstat(join(dir, 'module.json')).catch(() => null))?.isSymbolicLink()) {
      throw new HubError('manifest_invalid', `${where} is a symbolic link; make it a plain file`);
    }
    let text: string;
    try {
      text = await readFile(join(dir, 'module.json'), 'utf8');
    } catch {
      throw new HubError('manifest_missing', `${where}: file not found; every module folder needs a module.json (copy modules/_template)`);
    }
    const parsed = parseManifest(text, where, folder);
    entry.manifest = parsed.manifest;
    entry.warnings = parsed.warnings;
  } catch (e) {
    entry.error = toHubError(e, 'manifest_invalid');
  }
  return entry;
}

/** Most entries looked at for symlinks per module (node_modules included); beyond it the module fails. */
const MAX_WALK = 50_000;

/**
 * The first symlink under `root` (a module folder, real path) whose target lies outside it,
 * or null. Under "process" isolation Node's permission model checks a path as written, so
 * `modules/evil/data -> $HUB_DATA_DIR` would open the kernel's files (issue 11, item 3).
 * Dangling links count by where they point.
 */
export async function linkLeavingFolder(root: string): Promise<{ link: string; target: string } | null> {
  let seen = 0;
  const walk = async (dir: string): Promise<{ link: string; target: string } | null> => {
    for (const d of await readdir(dir, { withFileTypes: true })) {
      if (++seen > MAX_WALK) throw new HubError('forbidden', `the module folder has more than ${MAX_WALK} files; cannot check it for symlinks`);
      const p = join(dir, d.name);
      if (d.isSymbolicLink()) {
        const target = await realpath(p).catch(async () => resolve(dirname(p), await readlink(p)));
        if (target !== root && !target.startsWith(root + sep)) return { link: relative(root, p), target };
      } else if (d.isDirectory()) {
        const found = await walk(p);
        if (found) return found;
      }
    }
    return null;
  };
  return walk(root);
}

/**
 * Reads every module folder under modulesDir and applies the cross-module rules; `held`
 * (ModuleSet.holdings()) while the hub runs, so a module keeps the prefixes it holds.
 */
export async function scanModules(modulesDir: string, hubVersion: string, held?: Holdings): Promise<ModuleEntry[]> {
  let names: string[];
  let realModulesDir: string;
  try {
    realModulesDir = await realpath(modulesDir);
    const dirents = await readdir(modulesDir, { withFileTypes: true });
    names = dirents
      .filter((d) => (d.isDirectory() || d.isSymbolicLink()) && !isIgnoredFolder(d.name))
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
  const entries = await Promise.all(names.map((n) => readEntry(modulesDir, realModulesDir, n)));
  return applyCrossModuleRules(entries, hubVersion, held);
}

/** MODULES__<NAME>__URL wins over the manifest's remote_url, so one manifest fits every deployment. */
export function remoteUrlFor(entry: ModuleEntry, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env[`MODULES__${envName(entry.name)}__URL`] || entry.manifest?.remote_url || undefined;
}
