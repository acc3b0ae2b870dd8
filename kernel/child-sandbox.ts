// What a module child may read under Node's permission model: the hub's compiled runtime
// and its packages, the compiled (staged) modules, and any node_modules a module
// resolves its packages from. Not HUB_DATA_DIR as a whole: that holds the embedded
// database's password, every module's logs and the kernel's id.
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { HUB_ROOT } from '../shared/paths.js';
import type { KernelConfig } from './config.js';
import type { ModuleEntry } from './registry.js';

const real = (p: string) => {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
};

/** The nearest node_modules above a module folder, if there is one. */
function nearestNodeModules(dir: string): string | null {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) return join(d, 'node_modules');
    if (dirname(d) === d) return null;
  }
}

export function childReadPaths(config: KernelConfig, entries: ModuleEntry[]): string[] {
  // Not the modules folder: a child runs from its staged build (code and files) under
  // HUB_DATA_DIR/build, so it has no reason to read any module's source, other modules' least
  // of all (red team: every child could read every module's router and migrations).
  const dirs = new Set([join(HUB_ROOT, 'dist', 'shared'), join(HUB_ROOT, 'node_modules'), join(real(config.dataDir), 'build')]);
  for (const e of entries) {
    const nm = nearestNodeModules(e.dir);
    if (nm) dirs.add(real(nm));
  }
  // a folder inside another allowed one needs no entry of its own
  const sorted = [...dirs].sort();
  const roots = sorted.filter((d) => !sorted.some((o) => o !== d && d.startsWith(o + sep)));
  // the runtime finds the hub's root by its package.json
  return [...roots.map((d) => `${d}${sep}*`), join(HUB_ROOT, 'package.json')];
}
