// enable / disable / restart as the admin API and the dashboard ask for them. Each only says
// what is wanted to the module set (kernel/module-set.ts), which reconciles; then waits for
// an answer to give. The API's own refusals live here: disabling a module that wanted
// modules depend on is refused (hot reload and cluster sync cannot refuse: their dependents
// are held out instead, by the same rule).
import { HubError } from '../shared/errors.js';
import { assertModuleName } from '../shared/names.js';
import { HUB_VERSION } from '../shared/paths.js';
import type { ModuleSet } from './module-set.js';
import { scanModules } from './registry.js';
import { dependencyClosure } from './registry-rules.js';
import type { ModuleSupervisor } from './supervisor.js';
import { isOff, isStarted } from '../shared/module-states.js';

/** How long restart waits for the new child before answering with the record as it is (202). */
export const ANSWER_WITHIN_MS = 4_000;

function usable(sup: ModuleSupervisor): void {
  if (sup.entry.error) throw new HubError(sup.entry.error.code, sup.entry.error.message);
}

/** A module folder added since the kernel started (e.g. by `hubctl create`) is picked up on enable. */
async function findOrDiscover(set: ModuleSet, modulesDir: string, rawName: unknown): Promise<ModuleSupervisor> {
  const name = assertModuleName(rawName);
  if (!set.get(name)) {
    const entry = (await scanModules(modulesDir, HUB_VERSION)).find((e) => e.name === name);
    if (entry && !set.get(name)) set.add(entry);
  }
  return set.find(name);
}

/**
 * Wants a module and, first, every module it needs; resolves once it has an answer (running,
 * failed, or held by a dependency that failed). Returns the names it enabled along the way.
 */
export async function enableModule(set: ModuleSet, modulesDir: string, rawName: unknown): Promise<{ sup: ModuleSupervisor; alsoEnabled: string[] }> {
  const sup = await findOrDiscover(set, modulesDir, rawName);
  usable(sup);
  const alsoEnabled: string[] = [];
  for (const depName of dependencyClosure(set.list().map((s) => s.entry), sup.name)) {
    const dep = set.find(depName);
    usable(dep);
    if (!dep.wanted) alsoEnabled.push(dep.name);
    await set.want(dep, true, 'api');
  }
  await set.want(sup, true, 'api');
  await set.outcome(sup);
  return { sup, alsoEnabled };
}

/** Unwants a module; refused (409 dependency_in_use) while wanted modules depend on it. Answers once it is disabled. */
export async function disableModule(set: ModuleSet, rawName: unknown): Promise<ModuleSupervisor> {
  const sup = set.find(rawName);
  if (!sup.wanted && isOff(sup.state)) return sup;
  const dependents = set.dependentsOf(sup.name).map((s) => s.name);
  if (dependents.length > 0) {
    throw new HubError('dependency_in_use', `cannot disable ${sup.name}: enabled modules depend on it: ${dependents.join(', ')}; disable them first`, { dependents });
  }
  await set.want(sup, false, 'api', Boolean(sup.entry.manifest));
  await set.outcome(sup);
  return sup;
}

/**
 * Zero-downtime restart of a running module, or a fresh try of one that is not running.
 * Answers within ANSWER_WITHIN_MS (then `pending` is true and the record says where it is).
 */
export async function restartModule(set: ModuleSet, rawName: unknown): Promise<{ sup: ModuleSupervisor; pending: boolean }> {
  const sup = set.find(rawName);
  usable(sup);
  if (!sup.wanted) throw new HubError('conflict', `module ${sup.name} is disabled; enable it instead`);
  let finished = false;
  const run = (async () => {
    if (isStarted(sup.state)) await sup.restart();
    else {
      await sup.stop();
      set.kick(sup);
    }
    await set.outcome(sup);
  })().finally(() => (finished = true));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([run, new Promise<void>((resolve) => (timer = setTimeout(resolve, ANSWER_WITHIN_MS)))]);
  clearTimeout(timer);
  if (!finished) run.catch(() => undefined);
  return { sup, pending: !finished };
}
