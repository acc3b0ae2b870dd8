// enable / disable / restart, as the admin API, the dashboard and hot reload use them.
// Calls on one module run one at a time; the `enabled` flag is written to module.json
// so every change survives a kernel restart.
import { HubError } from '../shared/errors.js';
import { parseDependency } from '../shared/manifest.js';
import { assertModuleName } from '../shared/names.js';
import type { Kernel } from './kernel.js';
import { persistEnabled } from './manifest-writer.js';
import { scanModules } from './registry.js';
import { dependencyClosure } from './registry-rules.js';
import { HUB_VERSION } from '../shared/paths.js';
import type { ModuleSupervisor } from './supervisor.js';

const locks = new WeakMap<ModuleSupervisor, Promise<unknown>>();

/** Runs op after every earlier operation on the same module has finished. */
export function locked<T>(sup: ModuleSupervisor, op: () => Promise<T>): Promise<T> {
  const prev = locks.get(sup) ?? Promise.resolve();
  const run = prev.then(op, op);
  locks.set(sup, run.catch(() => undefined));
  return run;
}

export function findModule(kernel: Kernel, rawName: unknown): ModuleSupervisor {
  const name = assertModuleName(rawName);
  const sup = kernel.supervisor(name);
  if (!sup) throw new HubError('module_not_found', `no module named "${name}" in ${kernel.config.modulesDir}; see GET /api/v1/modules`);
  return sup;
}

function usable(sup: ModuleSupervisor): void {
  if (sup.entry.error) throw new HubError(sup.entry.error.code, sup.entry.error.message);
}

/** Writes the switch to module.json and, with a shared database, tells the other kernels. */
async function setEnabled(kernel: Kernel, sup: ModuleSupervisor, enabled: boolean): Promise<void> {
  if (sup.entry.manifest!.enabled !== enabled) {
    await persistEnabled(sup.entry.dir, enabled);
    sup.entry.manifest!.enabled = enabled;
  }
  await kernel.cluster?.record(sup.name, enabled);
}

/** A module folder added since the kernel started (e.g. by `hubctl create`) is picked up on enable. */
async function findOrDiscover(kernel: Kernel, rawName: unknown): Promise<ModuleSupervisor> {
  const name = assertModuleName(rawName);
  if (!kernel.supervisor(name)) {
    const entry = (await scanModules(kernel.config.modulesDir, HUB_VERSION)).find((e) => e.name === name);
    if (entry && !kernel.supervisor(name)) kernel.register(entry);
  }
  return findModule(kernel, name);
}

/** Enables a module and, first, every module it needs. Returns the names it enabled along the way. */
export async function enableModule(kernel: Kernel, rawName: unknown): Promise<{ sup: ModuleSupervisor; alsoEnabled: string[] }> {
  const sup = await findOrDiscover(kernel, rawName);
  usable(sup);
  const entries = kernel.supervisors().map((s) => s.entry);
  const alsoEnabled: string[] = [];
  for (const depName of dependencyClosure(entries, sup.name)) {
    const dep = findModule(kernel, depName);
    usable(dep);
    if (!dep.entry.manifest!.enabled || dep.state !== 'running') {
      if (!dep.entry.manifest!.enabled) alsoEnabled.push(dep.name);
      await locked(dep, async () => {
        await setEnabled(kernel, dep, true);
        await dep.start();
      });
      if (dep.state !== 'running') {
        throw new HubError('dependency_missing', `cannot enable ${sup.name}: its dependency ${dep.name} is ${dep.state}${dep.lastError ? ` (${dep.lastError})` : ''}`);
      }
    }
  }
  await locked(sup, async () => {
    await setEnabled(kernel, sup, true);
    await sup.start();
  });
  return { sup, alsoEnabled };
}

/** Modules that are enabled and list `name` among their dependencies. */
export function dependentsOf(kernel: Kernel, name: string): string[] {
  return kernel
    .supervisors()
    .filter((s) => s.entry.manifest?.enabled && s.entry.manifest.dependencies.some((d) => parseDependency(d).name === name))
    .map((s) => s.name);
}

export async function disableModule(kernel: Kernel, rawName: unknown): Promise<ModuleSupervisor> {
  const sup = findModule(kernel, rawName);
  return locked(sup, async () => {
    const dependents = dependentsOf(kernel, sup.name);
    if (dependents.length > 0) {
      throw new HubError('dependency_in_use', `cannot disable ${sup.name}: enabled modules depend on it: ${dependents.join(', ')}; disable them first`, { dependents });
    }
    await sup.stop();
    if (sup.entry.manifest) await setEnabled(kernel, sup, false);
    return sup;
  });
}

export async function restartModule(kernel: Kernel, rawName: unknown): Promise<ModuleSupervisor> {
  const sup = findModule(kernel, rawName);
  usable(sup);
  return locked(sup, async () => {
    if (!sup.entry.manifest!.enabled) throw new HubError('conflict', `module ${sup.name} is disabled; enable it instead`);
    await sup.restart();
    return sup;
  });
}
