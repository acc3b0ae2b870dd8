// Brings the running kernel in line with the modules folder as it is now: new folders
// are registered (and started if enabled), removed ones stopped, manifest edits applied
// live (enable, disable, new prefixes), and changed code reloaded without downtime. An
// invalid edit is rejected and the module keeps running as it was. Hot reload calls this.
import { isDeepStrictEqual } from 'node:util';
import { HUB_VERSION } from '../shared/paths.js';
import { toHubError } from '../shared/errors.js';
import type { Kernel } from './kernel.js';
import { enableModule, locked } from './module-actions.js';
import { remoteUrlFor, scanModules, type ModuleEntry } from './registry.js';
import type { ModuleSupervisor } from './supervisor.js';

const withoutEnabled = (e: ModuleEntry) => (e.manifest ? { ...e.manifest, enabled: undefined } : null);

async function reload(kernel: Kernel, sup: ModuleSupervisor, why: string): Promise<void> {
  if (sup.state !== 'running' && sup.state !== 'failed') return;
  if (!sup.entry.manifest?.enabled) return;
  try {
    await locked(sup, () => sup.restart());
    if (sup.state === 'running') kernel.log.info({ module: sup.name }, `🔄 Reloaded module ${sup.name} (${why})`);
  } catch (e) {
    kernel.log.error({ module: sup.name }, `❌ Reload of ${sup.name} failed, the running version keeps serving: ${toHubError(e).message}`);
  }
}

async function applyEntry(kernel: Kernel, sup: ModuleSupervisor, next: ModuleEntry, codeChanged: boolean): Promise<void> {
  const prev = sup.entry;
  if (!next.error && remoteUrlFor(prev) !== remoteUrlFor(next)) {
    // moving between a local child and a remote URL changes who runs it: start over
    await locked(sup, () => sup.stop());
    kernel.unregister(sup.name);
    const replaced = kernel.register(next);
    kernel.log.info({ module: next.name }, `🔀 Module ${next.name} now ${remoteUrlFor(next) ? `runs at ${remoteUrlFor(next)}` : 'runs as a local child'}`);
    if (next.manifest?.enabled) await enableModule(kernel, replaced.name).catch((e) => kernel.log.error({ module: next.name }, `❌ Could not start ${next.name}: ${toHubError(e).message}`));
    return;
  }
  const live = sup.state === 'running' || sup.state === 'starting' || sup.state === 'restarting';
  if (next.error && !prev.error && live) {
    kernel.log.warn({ module: sup.name }, `⚠️  Rejected the edit of modules/${sup.name}/module.json, keeping the running version: ${next.error.message}`);
    return;
  }
  const manifestChanged = !isDeepStrictEqual(withoutEnabled(prev), withoutEnabled(next)) || Boolean(prev.error) !== Boolean(next.error);
  const enabledNow = next.manifest?.enabled === true;
  const enabledBefore = prev.manifest?.enabled === true;
  if (manifestChanged) {
    await locked(sup, async () => {
      sup.replaceEntry(next);
      kernel.route(sup, prev);
    });
  } else if (next.manifest && sup.entry.manifest) {
    sup.entry.manifest.enabled = next.manifest.enabled;
  }
  if (next.error) return;
  if (enabledNow && !live) {
    await enableModule(kernel, sup.name).catch((e) => kernel.log.error({ module: sup.name }, `❌ Could not enable ${sup.name}: ${toHubError(e).message}`));
  } else if (!enabledNow && enabledBefore && live) {
    await locked(sup, () => sup.stop());
    kernel.log.info({ module: sup.name }, `⏹️  Module ${sup.name} disabled (module.json)`);
  } else if (enabledNow && live && (manifestChanged || codeChanged)) {
    await reload(kernel, sup, manifestChanged ? 'module.json changed' : 'code changed');
  }
}

/** `changed`: module folders with changed files other than module.json. */
export async function syncModules(kernel: Kernel, changed: Set<string>): Promise<void> {
  const entries = await scanModules(kernel.config.modulesDir, HUB_VERSION);
  const seen = new Set(entries.map((e) => e.name));

  for (const sup of kernel.supervisors()) {
    if (seen.has(sup.name)) continue;
    await locked(sup, () => sup.stop());
    kernel.unregister(sup.name);
    kernel.log.info({ module: sup.name }, `🗑️  Module ${sup.name} removed`);
  }

  await Promise.all(
    entries.map(async (entry) => {
      const sup = kernel.supervisor(entry.name);
      if (sup) return applyEntry(kernel, sup, entry, changed.has(entry.name));
      const added = kernel.register(entry);
      if (entry.manifest?.enabled && !entry.error) {
        await enableModule(kernel, added.name).catch((e) => kernel.log.error({ module: added.name }, `❌ Could not start ${added.name}: ${toHubError(e).message}`));
      }
    }),
  );
}
