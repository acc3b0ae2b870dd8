// enable / disable with no hub running: rewrite module.json (atomically, as the kernel does)
// and say that the change applies at the next start. The same rules as the live API: enable
// takes the module's dependencies along, disable is refused while an enabled module needs it.
import { parseDependency } from '../shared/manifest.js';
import { HUB_VERSION } from '../shared/paths.js';
import { persistEnabled } from '../kernel/manifest-writer.js';
import { dependencyClosure } from '../kernel/registry-rules.js';
import { scanModules, type ModuleEntry } from '../kernel/registry.js';
import { requireTestedSetting } from '../kernel/config.js';
import { assertTested } from '../kernel/tested-records.js';
import { isHubError } from '../shared/errors.js';
import { dataDir } from './env.js';
import { CliError, EXIT } from './errors.js';

export interface OfflineResult {
  name: string;
  /** Manifests rewritten, dependencies first. */
  changed: string[];
  file: string;
}

async function load(modulesDir: string, name: string): Promise<{ entries: ModuleEntry[]; entry: ModuleEntry }> {
  const entries = await scanModules(modulesDir, HUB_VERSION);
  const entry = entries.find((e) => e.name === name);
  if (!entry) throw new CliError(`no module named "${name}" in ${modulesDir}, see ls ${modulesDir} or set HUB_MODULES_DIR`, EXIT.notFound);
  if (!entry.manifest) throw new CliError(`${entry.error?.message ?? `modules/${name}/module.json is unusable`}`);
  return { entries, entry };
}

export async function offlineEnable(modulesDir: string, name: string): Promise<OfflineResult> {
  const { entries, entry } = await load(modulesDir, name);
  // A module the registry keeps out (bad dependency, clashing prefix) would not start anyway.
  if (entry.error) throw new CliError(`${name} cannot be enabled: ${entry.error.message}`, EXIT.conflict);
  const closure = [...dependencyClosure(entries, name), name];
  // HUB_REQUIRE_TESTED: the same refusal the kernel gives (kernel/tested-records.ts)
  if (requireTestedSetting()) {
    for (const n of closure) {
      const e = entries.find((x) => x.name === n);
      if (!e) continue;
      await assertTested(dataDir(), n, e.dir).catch((err) => {
        throw isHubError(err) ? new CliError(err.message, EXIT.conflict, err.code) : err;
      });
    }
  }
  const changed: string[] = [];
  for (const depName of closure) {
    const dep = entries.find((e) => e.name === depName);
    if (!dep?.manifest) throw new CliError(`${name} needs ${depName}, which is not installed or unusable, install it first`, EXIT.conflict);
    if (!dep.manifest.enabled) {
      await persistEnabled(dep.dir, true);
      changed.push(depName);
    }
  }
  return { name, changed, file: `${entry.dir}/module.json` };
}

export async function offlineDisable(modulesDir: string, name: string): Promise<OfflineResult> {
  const { entries, entry } = await load(modulesDir, name);
  const dependents = entries
    .filter((e) => e.manifest?.enabled && e.name !== name && e.manifest.dependencies.some((d) => parseDependency(d).name === name))
    .map((e) => e.name);
  if (dependents.length > 0) {
    throw new CliError(`cannot disable ${name}: enabled modules depend on it: ${dependents.join(', ')}, disable them first`, EXIT.conflict);
  }
  const changed: string[] = [];
  if (entry.manifest!.enabled) {
    await persistEnabled(entry.dir, false);
    changed.push(name);
  }
  return { name, changed, file: `${entry.dir}/module.json` };
}
