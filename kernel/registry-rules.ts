// Rules that judge modules against each other: unique and non-nested table prefixes,
// non-overlapping api prefixes, no collision with kernel routes, dependencies that exist,
// match their version range and form no cycle. The loser of a clash is kept out, never
// both. While the hub runs, the module that holds a prefix now (its routes are in the route
// table) keeps it and the newcomer or the edited module is refused; at boot nobody holds
// anything, and enabled modules win over disabled ones, then alphabetical order.
import semver from 'semver';
import { HubError } from '../shared/errors.js';
import { parseDependency } from '../shared/manifest.js';
import type { ModuleEntry } from './module-entry.js';

/**
 * Paths the kernel serves itself under /api; no module prefix may overlap them. The gateway
 * routes modules before the kernel's own routes, so a module on /api/v1/auth would receive
 * every password posted to sign in.
 */
export const KERNEL_API_ROUTES = ['/api/v1/modules', '/api/v1/events', '/api/docs', '/api/v1/auth', '/api/v1/users', '/api/v1/audit', '/api/v1/notices'];

/** The kernel's own tables (ledger, state) start with this. */
export const KERNEL_TABLE_PREFIX = 'hub_';

/** True when one path is a whole-segment prefix of the other (/api/a vs /api/a/b, not /api/ab). */
export function pathsOverlap(a: string, b: string): boolean {
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  return long === short || long.startsWith(short + '/');
}

function fail(entry: ModuleEntry, error: HubError): void {
  entry.error ??= error;
}

const valid = (entries: ModuleEntry[]) => entries.filter((e) => e.manifest && !e.error);

/** What a module holds now, by name (ModuleSet.holdings()). */
export type Holdings = ReadonlyMap<string, { api_prefix: string; table_prefix: string }>;

const tablesClash = (a: string, b: string) => a.startsWith(b) || b.startsWith(a);

function checkPrefixes(entries: ModuleEntry[], held: Holdings): void {
  const byName = new Map(entries.map((e) => [e.name, e]));
  // a holding stands while its module is still installed and does not validly let go of it:
  // its new manifest still claims it, or is broken (a rejected edit keeps the running version)
  const standing = (holder: string, claims: (m: NonNullable<ModuleEntry['manifest']>) => boolean): boolean => {
    const next = byName.get(holder);
    if (!next) return false;
    return !next.manifest || Boolean(next.error) || claims(next.manifest);
  };
  const holds = (e: ModuleEntry) => {
    const h = held.get(e.name);
    return h !== undefined && h.api_prefix === e.manifest!.api_prefix && h.table_prefix === e.manifest!.table_prefix;
  };
  // holders first, then enabled, then by name: the module already in use keeps its prefix
  const ordered = valid(entries).sort(
    (a, b) => Number(holds(b)) - Number(holds(a)) || Number(b.manifest!.enabled) - Number(a.manifest!.enabled) || a.name.localeCompare(b.name),
  );
  const kept: ModuleEntry[] = [];
  for (const e of ordered) {
    const m = e.manifest!;
    const where = `modules/${e.name}/module.json`;
    const kernelClash = KERNEL_API_ROUTES.find((r) => pathsOverlap(r, m.api_prefix));
    if (kernelClash) {
      fail(e, new HubError('manifest_invalid', `${where}: field "api_prefix" ${m.api_prefix} overlaps the kernel route ${kernelClash}; choose another api_prefix`, { field: 'api_prefix' }));
      continue;
    }
    if (m.table_prefix === KERNEL_TABLE_PREFIX) {
      fail(e, new HubError('manifest_invalid', `${where}: field "table_prefix" "${m.table_prefix}" is the kernel's own; choose another prefix`, { field: 'table_prefix' }));
      continue;
    }
    const others = [...held].filter(([n]) => n !== e.name);
    const tableHeld = others.find(([n, h]) => tablesClash(h.table_prefix, m.table_prefix) && standing(n, (nm) => tablesClash(nm.table_prefix, m.table_prefix)));
    if (tableHeld) {
      const [owner, h] = tableHeld;
      fail(e, new HubError('manifest_invalid', `${where}: field "table_prefix" "${m.table_prefix}" clashes with "${h.table_prefix}", which module ${owner} holds (equal, or one starts with the other); module ${owner} keeps it, choose a distinct prefix`, { field: 'table_prefix', owner }));
      continue;
    }
    const tableClash = kept.find((k) => tablesClash(k.manifest!.table_prefix, m.table_prefix));
    if (tableClash) {
      fail(e, new HubError('manifest_invalid', `${where}: field "table_prefix" "${m.table_prefix}" clashes with "${tableClash.manifest!.table_prefix}" of module ${tableClash.name} (equal, or one starts with the other); choose a distinct prefix`, { field: 'table_prefix' }));
      continue;
    }
    const apiHeld = others.find(([n, h]) => pathsOverlap(h.api_prefix, m.api_prefix) && standing(n, (nm) => pathsOverlap(nm.api_prefix, m.api_prefix)));
    if (apiHeld) {
      const [owner, h] = apiHeld;
      fail(e, new HubError('manifest_invalid', `${where}: field "api_prefix" ${m.api_prefix} overlaps ${h.api_prefix}, which module ${owner} holds; module ${owner} keeps it, choose a distinct api_prefix`, { field: 'api_prefix', owner }));
      continue;
    }
    const apiClash = kept.find((k) => pathsOverlap(k.manifest!.api_prefix, m.api_prefix));
    if (apiClash) {
      fail(e, new HubError('manifest_invalid', `${where}: field "api_prefix" ${m.api_prefix} overlaps ${apiClash.manifest!.api_prefix} of module ${apiClash.name}; choose a distinct api_prefix`, { field: 'api_prefix' }));
      continue;
    }
    kept.push(e);
  }
}

function checkHubVersion(entries: ModuleEntry[], hubVersion: string): void {
  for (const e of valid(entries)) {
    const range = e.manifest!.hub_version;
    if (range && !semver.satisfies(hubVersion, range, { includePrerelease: true })) {
      fail(e, new HubError('hub_version_mismatch', `modules/${e.name}/module.json: needs hub ${range}, this hub is ${hubVersion}; update the hub or the module`));
    }
  }
}

/**
 * Keeps out modules whose dependencies are missing, of the wrong version, failed themselves,
 * or part of a cycle; the message carries the whole chain. Returns the entries in start order.
 */
function checkDependencies(entries: ModuleEntry[]): ModuleEntry[] {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const order: ModuleEntry[] = [];
  const state = new Map<string, 'visiting' | 'done'>();

  const visit = (e: ModuleEntry, chain: string[]): void => {
    if (state.get(e.name) === 'done') return;
    if (state.get(e.name) === 'visiting') {
      const cycle = [...chain.slice(chain.indexOf(e.name)), e.name].join(' → ');
      for (const n of chain.slice(chain.indexOf(e.name))) {
        fail(byName.get(n)!, new HubError('dependency_cycle', `dependency cycle ${cycle}; remove one of these dependencies`));
      }
      return;
    }
    state.set(e.name, 'visiting');
    for (const raw of e.manifest?.dependencies ?? []) {
      const dep = parseDependency(raw);
      const target = byName.get(dep.name);
      const path = [...chain, e.name, dep.name].join(' → ');
      if (!target) {
        fail(e, new HubError('dependency_missing', `modules/${e.name}/module.json: depends on "${dep.name}", which is not installed (${path}); add the module or remove the dependency`));
        continue;
      }
      visit(target, [...chain, e.name]);
      if (target.error && !e.error) {
        fail(e, new HubError('dependency_missing', `depends on ${dep.name}, which cannot start (${path}): ${target.error.message}`));
      } else if (dep.range && target.manifest && !semver.satisfies(target.manifest.version, dep.range, { includePrerelease: true })) {
        fail(e, new HubError('dependency_version', `modules/${e.name}/module.json: needs ${dep.name}@${dep.range} but ${dep.name} is ${target.manifest.version} (${path}); update one of them`));
      }
    }
    state.set(e.name, 'done');
    order.push(e);
  };
  for (const e of entries) visit(e, []);
  return order;
}

/** `held`: what each module holds now (none at boot). */
export function applyCrossModuleRules(entries: ModuleEntry[], hubVersion: string, held: Holdings = new Map()): ModuleEntry[] {
  checkPrefixes(entries, held);
  checkHubVersion(entries, hubVersion);
  return checkDependencies(entries);
}

/** Names of every module that `name` needs, nearest last (the order to start them in). */
export function dependencyClosure(entries: ModuleEntry[], name: string): string[] {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const out: string[] = [];
  const walk = (n: string) => {
    for (const raw of byName.get(n)?.manifest?.dependencies ?? []) {
      const dep = parseDependency(raw).name;
      if (!out.includes(dep) && dep !== name) {
        walk(dep);
        if (!out.includes(dep)) out.push(dep);
      }
    }
  };
  walk(name);
  return out;
}
