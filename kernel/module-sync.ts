// Hot reload's side of the module set: brings it in line with the modules folder as it is
// now. New folders are added (and wanted if their module.json says so), removed ones
// stopped, an edit of `enabled` is a wish like any other, changed manifests re-routed, and
// changed code reloaded without downtime. An invalid edit is rejected and the module keeps
// running as it was, with the reason in its record (reload_error) until an edit loads.
// Only modules whose own files changed are touched: an unrelated edit never retries or
// re-logs a failed module (issue 13 items 4, 5).
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { HUB_VERSION } from '../shared/paths.js';
import { HubError, toHubError } from '../shared/errors.js';
import type { ModuleSet } from './module-set.js';
import { remoteUrlFor, scanModules, type ModuleEntry } from './registry.js';
import { REJECTED_EDIT, type ModuleSupervisor } from './supervisor.js';
import { isComingUp, takesTraffic } from '../shared/module-states.js';

const withoutEnabled = (e: ModuleEntry) => (e.manifest ? { ...e.manifest, enabled: undefined } : null);

/** Zero-downtime reload; a failure is kept on the record, a success clears it. */
export async function reload(set: ModuleSet, log: Logger, sup: ModuleSupervisor, why: string): Promise<void> {
  if (!takesTraffic(sup.state)) {
    // nothing is serving: try again from scratch (a failed module whose files changed)
    sup.reloadError = null;
    set.kick(sup);
    return;
  }
  try {
    await sup.restart('reload');
    if (takesTraffic(sup.state)) {
      sup.reloadError = null;
      log.info({ module: sup.name }, `🔄 Reloaded module ${sup.name} (${why})`);
    }
  } catch (e) {
    sup.reloadError = toHubError(e).message;
    log.error({ module: sup.name }, `❌ Reload of ${sup.name} failed, the running version keeps serving: ${sup.reloadError}`);
  }
  set.changed(sup);
}

function warnUnknownFields(log: Logger, entry: ModuleEntry): void {
  for (const w of entry.warnings) log.warn({ module: entry.name }, `⚠️  ${w}`);
}

/** What taking a re-read entry did; the caller then reloads, restarts or wants. */
export interface Adopted {
  /** The module's supervisor now (a new one when it moved between local and remote). */
  sup: ModuleSupervisor;
  manifestChanged: boolean;
  enabledEdited: boolean;
  /** Moved between a local child and a remote URL: started over, nothing left to do. */
  startedOver: boolean;
  /** The new entry is broken (manifest, or a rule between modules): its error. */
  error: HubError | null;
  /** The entry it replaced was broken (a refused newcomer, a bad manifest now fixed). */
  wasBroken: boolean;
}

/**
 * Takes a freshly read entry for a known module, as a hot reload and `restart`/`enable` do.
 * A broken entry of a live module is rejected (the running version keeps serving, the reason
 * is its reload_error, logged once); a broken entry of an idle one becomes its record
 * (failed, last_error). A valid one replaces the manifest and its routes.
 */
export async function adoptEntry(set: ModuleSet, log: Logger, sup: ModuleSupervisor, next: ModuleEntry): Promise<Adopted> {
  const prev = sup.entry;
  const manifestChanged = !isDeepStrictEqual(withoutEnabled(prev), withoutEnabled(next)) || Boolean(prev.error) !== Boolean(next.error);
  const enabledEdited = next.manifest !== null && prev.manifest?.enabled !== next.manifest.enabled;
  const done = { manifestChanged, enabledEdited, startedOver: false, error: next.error, wasBroken: Boolean(prev.error) };
  if (manifestChanged || enabledEdited) warnUnknownFields(log, next);
  if (!next.error && remoteUrlFor(prev) !== remoteUrlFor(next)) {
    // moving between a local child and a remote URL changes who runs it: start over
    const wanted = sup.wanted;
    await set.remove(sup.name);
    const replaced = set.add(next);
    log.info({ module: next.name }, `🔀 Module ${next.name} now ${remoteUrlFor(next) ? `runs at ${remoteUrlFor(next)}` : 'runs as a local child'}`);
    await set.want(replaced, enabledEdited ? next.manifest!.enabled : wanted, 'module.json', enabledEdited);
    return { ...done, sup: replaced, startedOver: true };
  }
  const live = takesTraffic(sup.state) || isComingUp(sup.state);
  if (next.error && !prev.error && live) {
    const reason = `${REJECTED_EDIT} of modules/${sup.name}/module.json, keeping the running version: ${next.error.message}`;
    if (sup.reloadError !== reason) {
      sup.reloadError = reason;
      log.warn({ module: sup.name }, `⚠️  ${reason}`);
      set.changed(sup);
    }
    return { ...done, sup };
  }
  if (!next.error && sup.reloadError?.startsWith(REJECTED_EDIT)) {
    sup.reloadError = null; // the manifest loads again
    set.changed(sup);
  }
  if (next.error && next.error.message !== prev.error?.message) {
    log.error({ module: sup.name, code: next.error.code }, `❌ Could not load module ${sup.name}: ${next.error.message}`);
  }
  if (manifestChanged) set.replaceEntry(sup, next);
  else sup.entry = { ...sup.entry, manifest: next.manifest ?? sup.entry.manifest };
  return { ...done, sup };
}

async function applyEntry(set: ModuleSet, log: Logger, sup: ModuleSupervisor, next: ModuleEntry, codeChanged: boolean): Promise<void> {
  const done = await adoptEntry(set, log, sup, next);
  if (done.startedOver || done.error) return;
  // a module.json that says enabled could not be followed while it was broken: now it can
  if (done.enabledEdited || (done.wasBroken && next.manifest!.enabled && !sup.wanted)) {
    await set.want(sup, next.manifest!.enabled, 'module.json');
    return; // a fresh start (or stop) needs no reload
  }
  if (sup.wanted && (done.manifestChanged || codeChanged)) await reload(set, log, sup, done.manifestChanged ? 'module.json changed' : 'code changed');
}

/**
 * `hubctl restart|enable <name>`: re-reads that module's folder (manifest and the rules
 * between modules, exactly as a hot reload would) before acting. Returns the module's
 * supervisor (added when the folder is new); throws the entry's error when it is broken.
 * `startedOver` is true when it moved between local and remote and was started over;
 * `manifestChanged` when the module.json it runs with changed.
 */
export async function refreshModule(set: ModuleSet, modulesDir: string, name: string): Promise<{ sup: ModuleSupervisor; startedOver: boolean; manifestChanged: boolean } | null> {
  const log = set.log;
  const entry = (await scanModules(modulesDir, HUB_VERSION, set.holdings())).find((e) => e.name === name);
  const known = set.get(name);
  if (!entry) return known ? { sup: known, startedOver: false, manifestChanged: false } : null;
  if (!known) {
    const added = set.add(entry);
    warnUnknownFields(log, entry);
    if (entry.error) {
      log.error({ module: name, code: entry.error.code }, `❌ Could not load module ${name}: ${entry.error.message}`);
      throw new HubError(entry.error.code, entry.error.message, entry.error.details);
    }
    return { sup: added, startedOver: false, manifestChanged: false };
  }
  const done = await adoptEntry(set, log, known, entry);
  if (done.error) throw new HubError(done.error.code, done.error.message, done.error.details);
  return { sup: done.sup, startedOver: done.startedOver, manifestChanged: done.manifestChanged };
}

/** `changed`: module folders with changed files other than module.json. */
export async function syncModules(set: ModuleSet, modulesDir: string, log: Logger, changed: Set<string>): Promise<void> {
  const entries = await scanModules(modulesDir, HUB_VERSION, set.holdings());
  const seen = new Set(entries.map((e) => e.name));

  for (const sup of set.list()) {
    if (seen.has(sup.name)) continue;
    await set.remove(sup.name);
    log.info({ module: sup.name }, `🗑️  Module ${sup.name} removed`);
  }

  await Promise.all(
    entries.map(async (entry) => {
      const sup = set.get(entry.name);
      if (sup) return applyEntry(set, log, sup, entry, changed.has(entry.name));
      const added = set.add(entry);
      warnUnknownFields(log, entry);
      if (entry.error) log.error({ module: entry.name, code: entry.error.code }, `❌ Could not load module ${entry.name}: ${entry.error.message}`);
      if (entry.manifest?.enabled && !entry.error) {
        await set.want(added, true, 'module.json').catch((e) => log.error({ module: added.name }, `❌ Could not start ${added.name}: ${toHubError(e).message}`));
      }
    }),
  );
}
