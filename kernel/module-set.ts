// The one owner of the set of modules (issue 13): the supervisors in registry order, their
// routes, the **wanted** on/off switch of each (kept apart from the parsed manifest), and
// change notifications. Boot, the admin API, hubctl, hot reload and cluster sync only say
// what they want (`want`, `kick`, `replace`); the set reconciles each module towards it
// with the rule in kernel/reconcile-rules.ts. The one lock per module is its supervisor's
// queue; reconciling never waits for a child to become ready, so a disable is answered
// within the drain time at any moment.
import type { Logger } from 'pino';
import { HubError } from '../shared/errors.js';
import { parseDependency } from '../shared/manifest.js';
import { hasGivenUp, isDraining, isLaunching, isOff, isSettled, takesTraffic } from '../shared/module-states.js';
import { assertModuleName } from '../shared/names.js';
import { decide, type DependencyView } from './reconcile-rules.js';
import type { ModuleEntry } from './registry.js';
import { RouteTable } from './route-table.js';
import type { ModuleSupervisor } from './supervisor.js';

/** Where a wish came from: logged, and decides whether it is written and published. */
export type WantSource = 'boot' | 'api' | 'module.json' | 'cluster';

export interface ModuleSetDeps {
  log: Logger;
  modulesDir: string;
  /** A supervisor (local or remote) for an entry; its onChange must call ModuleSet.changed. */
  supervise(entry: ModuleEntry): ModuleSupervisor;
  /**
   * Makes a wish durable: module.json and this kernel's memory of it (api, cluster) and the
   * cluster's record (api, module.json). Failures are logged by the caller.
   */
  persist(sup: ModuleSupervisor, enabled: boolean, source: WantSource): Promise<void>;
}

export class ModuleSet {
  readonly routes = new RouteTable<ModuleSupervisor>();
  private readonly sups = new Map<string, ModuleSupervisor>();
  private order: string[] = [];
  /** In `failed` because a dependency held them out: they come up by themselves. */
  private readonly held = new Set<string>();
  /** Asked to try again (enable, restart, reload of their files, boot): a crashed module only starts on this. */
  private readonly kicked = new Set<string>();
  /** Failed since last running: their recovery is logged once. */
  private readonly down = new Set<string>();
  private readonly listeners = new Set<(sup: ModuleSupervisor) => void>();
  /** Each module's durable write in progress (persistLatest). */
  private readonly persisting = new Map<string, Promise<void>>();
  /** When each module on its way (starting) set out, for boot readiness. */
  private readonly launchedAt = new Map<string, number>();

  constructor(private readonly deps: ModuleSetDeps) {}

  get log(): Logger {
    return this.deps.log;
  }

  list(): ModuleSupervisor[] {
    return this.order.map((n) => this.sups.get(n)!).filter(Boolean);
  }

  get(name: string): ModuleSupervisor | undefined {
    return this.sups.get(name);
  }

  /** The module by a client-given name; `module_not_found` (404) when there is none. */
  find(rawName: unknown): ModuleSupervisor {
    const name = assertModuleName(rawName);
    const sup = this.sups.get(name);
    if (!sup) throw new HubError('module_not_found', `no module named "${name}" in ${this.deps.modulesDir}; see GET /api/v1/modules`);
    return sup;
  }

  /** Called on every state change of any module (live views, metrics). Returns an unsubscribe. */
  onChange(fn: (sup: ModuleSupervisor) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Adds a module found on disk; it is not wanted until someone says so. */
  add(entry: ModuleEntry): ModuleSupervisor {
    const sup = this.deps.supervise(entry);
    this.sups.set(entry.name, sup);
    this.order.push(entry.name);
    this.claimRoutes(sup);
    return sup;
  }

  /** Stops and forgets a module whose folder is gone. */
  async remove(name: string): Promise<void> {
    const sup = this.sups.get(name);
    if (!sup) return;
    sup.wanted = false;
    await sup.stop();
    this.routes.release(sup);
    this.sups.delete(name);
    this.order = this.order.filter((n) => n !== name);
    this.reconcileDependents(name);
  }

  /**
   * Takes a newly read entry for a known module (hot reload): the manifest and its routes,
   * and reconciles it against its dependencies as they are now listed. A running module that
   * may keep running does so on its old code; the caller decides on a reload.
   */
  replaceEntry(sup: ModuleSupervisor, next: ModuleEntry): void {
    sup.replaceEntry(next);
    this.claimRoutes(sup);
    // its dependencies may have changed (an edit adding one that is off): the same rule applies
    this.reconcile(sup.name);
  }

  /**
   * The prefixes each module holds now (valid entries: their routes are in the table), for
   * the cross-module rules of a re-read: a holder keeps its prefix, the newcomer is refused.
   */
  holdings(): Map<string, { api_prefix: string; table_prefix: string }> {
    const out = new Map<string, { api_prefix: string; table_prefix: string }>();
    for (const s of this.list()) {
      if (s.entry.manifest && !s.entry.error) out.set(s.name, { api_prefix: s.entry.manifest.api_prefix, table_prefix: s.entry.manifest.table_prefix });
    }
    return out;
  }

  /**
   * Claiming and releasing in one step: the module's old routes go (only its own, never a
   * prefix another module holds), then its api_prefix and /<name> point at it. A prefix that
   * another module holds is never taken over (the rules refuse such an entry first; this is
   * the last wall).
   */
  private claimRoutes(sup: ModuleSupervisor): void {
    this.routes.release(sup);
    const m = sup.entry.manifest;
    if (!m || sup.entry.error) return;
    for (const prefix of [m.api_prefix, `/${sup.name}`]) {
      const holder = this.routes.owner(prefix);
      if (holder && holder !== sup && this.sups.get(holder.name) === holder) {
        this.deps.log.error({ module: sup.name }, `❌ ${sup.name} cannot take ${prefix}: module ${holder.name} holds it`);
        continue;
      }
      this.routes.set(prefix, sup);
    }
  }

  /**
   * Says what is wanted for a module and reconciles it. Idempotent: wanting what is already
   * wanted changes nothing (so a cluster hint applied twice is applied once). `persist`
   * false for boot, which has already settled where the wish came from.
   */
  async want(sup: ModuleSupervisor, on: boolean, source: WantSource, persist = true): Promise<void> {
    // a new wish, or an explicit enable, tries a failed module again; a repeated hint does not
    if (on && (!sup.wanted || source === 'api' || source === 'boot')) this.kicked.add(sup.name);
    if (sup.wanted !== on) {
      sup.wanted = on;
      if (source !== 'boot') this.deps.log.info({ module: sup.name, source }, `${on ? '▶️' : '⏹️'}  ${sup.name} ${on ? 'enabled' : 'disabled'} (${source})`);
    }
    try {
      if (persist) await this.persistLatest(sup, source);
    } finally {
      // the wish stands even when making it durable failed (the caller reports that): a module
      // is never left running while not wanted, or the other way round
      this.reconcile(sup.name);
      this.reconcileDependents(sup.name);
    }
  }

  /**
   * Makes the module's wish durable, one write at a time per module, and always the wish as it
   * is when the write runs: two wishes racing (an enable and a disable together) can never
   * leave module.json, the cluster's record and this kernel's memory saying the one that lost.
   */
  private persistLatest(sup: ModuleSupervisor, source: WantSource): Promise<void> {
    const before = this.persisting.get(sup.name) ?? Promise.resolve();
    const mine = before.catch(() => undefined).then(() => this.deps.persist(sup, sup.wanted, source));
    this.persisting.set(sup.name, mine);
    const forget = () => {
      if (this.persisting.get(sup.name) === mine) this.persisting.delete(sup.name);
    };
    mine.then(forget, forget);
    return mine;
  }

  /** Try a failed module again (restart, a reload of its files): it starts if the rule allows. */
  kick(sup: ModuleSupervisor): void {
    this.kicked.add(sup.name);
    this.reconcile(sup.name);
  }

  /** Enabled modules that list `name` among their dependencies. */
  dependentsOf(name: string): ModuleSupervisor[] {
    return this.list().filter((s) => s.wanted && (s.entry.manifest?.dependencies ?? []).some((d) => parseDependency(d).name === name));
  }

  private dependencyViews(sup: ModuleSupervisor): DependencyView[] {
    return (sup.entry.manifest?.dependencies ?? []).map((d) => {
      const name = parseDependency(d).name;
      const dep = this.sups.get(name);
      return { name, known: dep !== undefined, wanted: dep?.wanted ?? false, state: dep?.state ?? 'disabled' };
    });
  }

  /** Brings one module towards what is wanted; the supervisor's queue orders the operations. */
  reconcile(name: string): void {
    const sup = this.sups.get(name);
    if (!sup) return;
    const goal = decide(
      { broken: Boolean(sup.entry.error), wanted: sup.wanted, state: sup.state, held: this.held.has(name), kicked: this.kicked.has(name) },
      this.dependencyViews(sup),
    );
    const fail = (e: unknown) => this.deps.log.error({ module: name }, `reconcile ${name}: ${(e as Error).message}`);
    switch (goal.kind) {
      case 'start':
        this.kicked.delete(name);
        this.held.delete(name);
        void sup.start().catch(fail);
        break;
      case 'stop':
        this.held.delete(name);
        void sup.stop().catch(fail);
        break;
      case 'hold':
        if (this.held.has(name) && hasGivenUp(sup.state) && sup.lastError === goal.reason) break;
        this.held.add(name);
        this.deps.log.warn({ module: name }, `⏸️  ${name} waits: ${goal.reason}`);
        void sup.hold(goal.reason).catch(fail);
        break;
      case 'wait':
        break;
      case 'none':
        // a kick is for one try: spent once the module is on its way (or cannot start at all)
        if (!hasGivenUp(sup.state) || sup.entry.error) this.kicked.delete(name);
        break;
    }
  }

  private reconcileDependents(name: string): void {
    for (const s of this.list()) {
      if ((s.entry.manifest?.dependencies ?? []).some((d) => parseDependency(d).name === name)) this.reconcile(s.name);
    }
  }

  /** Every module, in registry order. */
  reconcileAll(): void {
    for (const n of this.order) this.reconcile(n);
  }

  /** The supervisors' onChange: tells listeners, logs a recovery once, and reconciles the modules that depend on this one. */
  changed(sup: ModuleSupervisor): void {
    if (!isLaunching(sup.state)) this.launchedAt.delete(sup.name);
    else if (!this.launchedAt.has(sup.name)) this.launchedAt.set(sup.name, Date.now());
    if (hasGivenUp(sup.state) && !this.held.has(sup.name)) this.down.add(sup.name);
    if (takesTraffic(sup.state) && this.down.delete(sup.name)) this.deps.log.info({ module: sup.name }, `✅ Module ${sup.name} recovered and is running`);
    if (isOff(sup.state)) this.down.delete(sup.name);
    for (const fn of this.listeners) fn(sup);
    // after the supervisor's own bookkeeping for this change
    queueMicrotask(() => this.reconcileDependents(sup.name));
  }

  /**
   * Resolves once the module has an answer for whoever asked: running, failed (crash policy,
   * refused, or held by a dependency), disabled while not wanted, or unreachable. A module
   * waiting for a dependency that is on its way is not answered yet.
   */
  outcome(sup: ModuleSupervisor, withinMs = Infinity): Promise<void> {
    const done = () =>
      this.sups.get(sup.name) !== sup || (isSettled(sup.state) && (!isOff(sup.state) || !sup.wanted || Boolean(sup.entry.error)));
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        off();
        clearTimeout(timer);
        resolve();
      };
      const off = this.onChange(() => {
        if (done()) finish();
      });
      if (Number.isFinite(withinMs)) timer = setTimeout(finish, withinMs);
    });
  }

  /**
   * For boot readiness: the module's first attempt is over (running, failed, restarting after
   * a crash, unreachable), or it is not wanted, or it waits for a dependency that is not running,
   * or it has been on its way for longer than `patienceMs` (a slow migration: the rest of the hub
   * does not wait for it).
   */
  firstAttemptOver(sup: ModuleSupervisor, patienceMs = Infinity, now = Date.now()): boolean {
    if (!sup.wanted || sup.entry.error) return true;
    if (isOff(sup.state)) return this.dependencyViews(sup).some((d) => !takesTraffic(d.state));
    if (isLaunching(sup.state) && now - (this.launchedAt.get(sup.name) ?? now) > patienceMs) return true;
    return !isLaunching(sup.state) && !isDraining(sup.state);
  }

  /**
   * Resolves once every module's first attempt is over (see firstAttemptOver); modules still on
   * their way after `patienceMs` are named in one log line each and not waited for.
   */
  async firstAttempts(patienceMs = Infinity): Promise<void> {
    const pending = () => this.list().filter((s) => !this.firstAttemptOver(s, patienceMs));
    if (pending().length > 0) {
      await new Promise<void>((resolve) => {
        const check = () => {
          if (pending().length > 0) return;
          off();
          clearInterval(tick);
          resolve();
        };
        const off = this.onChange(check);
        // patience runs out without a state change: look again now and then
        const tick = setInterval(check, Number.isFinite(patienceMs) ? Math.min(1000, Math.max(50, patienceMs / 4)) : 3_600_000);
      });
    }
    for (const s of this.list()) {
      if (s.wanted && !s.entry.error && isLaunching(s.state)) {
        this.deps.log.warn({ module: s.name }, `⏳ ${s.name} is still starting after ${Math.round(patienceMs / 1000)} s (a slow migration?); the hub is ready without it meanwhile`);
      }
    }
  }

  /** Stops every module (kernel shutdown): starts in progress are cancelled, children drained. */
  async stopAll(): Promise<void> {
    for (const s of this.list()) s.wanted = false;
    await Promise.all(this.list().map((s) => s.stop()));
  }
}
