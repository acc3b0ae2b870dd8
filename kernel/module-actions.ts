// enable / disable / restart as the admin API and the dashboard ask for them. Each only says
// what is wanted to the module set (kernel/module-set.ts), which reconciles; then waits for
// an answer to give. The API's own refusals live here: disabling a module that wanted
// modules depend on is refused (hot reload and cluster sync cannot refuse: their dependents
// are held out instead, by the same rule). Enable and restart re-read the module's folder
// first (module-sync.ts refreshModule), so a fixed or changed module.json applies at once.
import { HubError } from '../shared/errors.js';
import { assertModuleName } from '../shared/names.js';
import type { ModuleSet } from './module-set.js';
import { refreshModule, reload } from './module-sync.js';
import { dependencyClosure } from './registry-rules.js';
import type { ModuleSupervisor } from './supervisor.js';
import { isOff, isSettled, isStarted, takesTraffic } from '../shared/module-states.js';

/** How long restart waits for the new child before answering with the record as it is (202). */
export const ANSWER_WITHIN_MS = 4_000;

function usable(sup: ModuleSupervisor): void {
  if (sup.entry.error) throw new HubError(sup.entry.error.code, sup.entry.error.message);
}

/**
 * The module as its folder is now: enable and restart re-read module.json and the rules
 * between modules first, exactly as a hot reload would (a folder added since the kernel
 * started, e.g. by `hubctl create`, is picked up too). A broken manifest throws its error.
 */
async function reread(set: ModuleSet, modulesDir: string, rawName: unknown) {
  const name = assertModuleName(rawName);
  const fresh = await refreshModule(set, modulesDir, name);
  return fresh ?? { sup: set.find(name), startedOver: false, manifestChanged: false };
}

/**
 * A check a module must pass before it is wanted (HUB_REQUIRE_TESTED: tested-records.ts
 * assertTested); throws the refusal. The start itself checks again (module-prep.ts), this one
 * only turns the refusal into the API's answer before anything changes.
 */
export type EnableGate = (name: string, moduleDir: string) => Promise<void>;

/**
 * Wants a module and, first, every module it needs; resolves once it has an answer (running,
 * failed, or held by a dependency that failed). Returns the names it enabled along the way.
 * `gate` refuses (throws) before any module is wanted.
 */
export async function enableModule(set: ModuleSet, modulesDir: string, rawName: unknown, gate?: EnableGate): Promise<{ sup: ModuleSupervisor; alsoEnabled: string[] }> {
  const fresh = await reread(set, modulesDir, rawName);
  const sup = fresh.sup;
  usable(sup);
  const closure = dependencyClosure(set.list().map((s) => s.entry), sup.name);
  if (gate) for (const n of [...closure, sup.name]) await gate(n, set.find(n).entry.dir);
  const alsoEnabled: string[] = [];
  for (const depName of closure) {
    const dep = set.find(depName);
    usable(dep);
    if (!dep.wanted) alsoEnabled.push(dep.name);
    await set.want(dep, true, 'api');
  }
  const wasServing = sup.wanted && takesTraffic(sup.state);
  await set.want(sup, true, 'api');
  // already running on the old manifest: it takes the new one without downtime
  if (wasServing && fresh.manifestChanged) await reload(set, set.log, sup, 'module.json changed');
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
export async function restartModule(set: ModuleSet, modulesDir: string, rawName: unknown): Promise<{ sup: ModuleSupervisor; pending: boolean }> {
  set.find(rawName); // 404 before anything is read
  const fresh = await reread(set, modulesDir, rawName);
  const sup = fresh.sup;
  usable(sup);
  if (!sup.wanted) throw new HubError('conflict', `module ${sup.name} is disabled; enable it instead`);
  if (fresh.startedOver) {
    await set.outcome(sup, ANSWER_WITHIN_MS);
    return { sup, pending: !isSettled(sup.state) };
  }
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
