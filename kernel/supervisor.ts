// One supervisor per module: it owns the module's state machine and its children.
// It starts, stops and replaces children, restarts crashed ones with backoff, and
// decides which child (if any) the gateway routes to. Operations on one module run
// one at a time, so two enables make one child.
import type { ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import type { ChildStats, ModuleSpec } from '../shared/ipc.js';
import { HubError, toHubError } from '../shared/errors.js';
import { CrashBackoff } from './backoff.js';
import { ChildHandle, type ChildExit, type OutputSink } from './child-process.js';
import type { KernelConfig } from './config.js';
import type { ModuleEvent, ModuleState } from './module-state.js';
import { StateCell } from './state-cell.js';
import { hasGivenUp, isComingUp, isDraining, isLaunching, isOff, isRetrying, isUp, takesTraffic } from '../shared/module-states.js';
import type { ModuleEntry } from './registry.js';
import type { ProxyTarget } from './proxy.js';

export interface SupervisorDeps {
  config: KernelConfig;
  log: Logger;
  /** The OS wall children get: their own uid ("uid") or the kernel's ("process"). */
  isolation?: 'uid' | 'process';
  /**
   * Compile and migrate before a module's first child (and before a restart): failures here are
   * final. `signal` aborts when a stop arrives meanwhile; prepare then rejects promptly.
   */
  prepare(entry: ModuleEntry, signal?: AbortSignal): Promise<void>;
  /** The init message for one child; called per child so credentials are fresh each time. */
  buildSpec(entry: ModuleEntry): Promise<ModuleSpec>;
  createProxy(name: string, to: number | string): ProxyTarget;
  /** A process to become the module: a warm spare when one fits, else a fresh fork. */
  spawnChild(maxMemoryMb: number | undefined): ChildProcess;
  output(name: string): OutputSink;
  onChange(sup: ModuleSupervisor): void;
}

interface LiveChild {
  handle: ChildHandle;
  proxy: ProxyTarget | null;
}

/**
 * What the module set, the gateway, records and views use of a module's supervisor, whether
 * it runs a forked child (ChildSupervisor) or checks a module at a URL
 * (RemoteModuleSupervisor, remote-supervisor.ts). Both compose a StateCell; neither extends the other.
 */
export interface ModuleSupervisor {
  entry: ModuleEntry;
  readonly name: string;
  readonly state: ModuleState;
  lastError: string | null;
  /** Crash restarts and requested restarts. */
  readonly restarts: number;
  /** Zero-downtime reloads for changed files. */
  readonly reloads: number;
  reloadError: string | null;
  /** Wanted on: kernel/module-set.ts is its only writer. */
  wanted: boolean;
  readonly crashes: Record<string, number>;
  dbIsolation: 'role' | 'shared' | 'none';
  /** The proxy requests go to, or null (the gateway answers 503). */
  readonly target: ProxyTarget | null;
  readonly child: ChildHandle | null;
  readonly isolation: 'uid' | 'process';
  readonly remote: boolean;
  readonly stats: ChildStats | null;
  readonly retryAfterSeconds: number;
  readonly uptimeMs: number;
  replaceEntry(entry: ModuleEntry): void;
  targetWithin(ms: number): Promise<ProxyTarget | null>;
  start(): Promise<void>;
  outcome(): Promise<void>;
  hold(reason: string): Promise<void>;
  stop(): Promise<void>;
  restart(kind?: 'restart' | 'reload'): Promise<void>;
}

/**
 * How a reload error about module.json on disk begins (module-sync.ts): that edit is not
 * loaded by any start, so only a valid module.json clears it. Every other reload error is
 * about code, and a fresh start on the files as they are now supersedes it.
 */
export const REJECTED_EDIT = 'Rejected the edit';

/** What a prepare cut short by stop() rejects with: not the module's fault, nothing to log. */
export const CANCELLED = new Error('cancelled by a stop');

/** A module run as a forked child of this kernel. */
export class ChildSupervisor implements ModuleSupervisor {
  state: ModuleState = 'disabled';
  lastError: string | null = null;
  restarts = 0;
  /** Zero-downtime replacements for changed code or manifest (hot reload): not restarts. */
  reloads = 0;
  /** Why the last hot reload did not load (the old child keeps serving); null once one loads. */
  reloadError: string | null = null;
  /** Whether the module is wanted on (kernel/module-set.ts is its only writer; module.json's `enabled` is only where it came from). */
  wanted = false;
  crashes: Record<string, number> = {};
  dbIsolation: 'role' | 'shared' | 'none' = 'none';
  private active: LiveChild | null = null;
  private starting: LiveChild | null = null;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryAt = 0;
  /** The prepare (compile, migrate) in progress, cancelled by a stop like a starting child. */
  private preparing: AbortController | null = null;
  private readonly backoff: CrashBackoff;
  private readonly cell: StateCell<ChildSupervisor>;

  constructor(public entry: ModuleEntry, private readonly deps: SupervisorDeps) {
    this.cell = new StateCell<ChildSupervisor>(this, (s) => deps.onChange(s));
    const t = deps.config.timing;
    this.backoff = new CrashBackoff({
      baseMs: t.backoffBaseMs,
      maxMs: t.backoffMaxMs,
      stableRunMs: t.stableRunMs,
      windowMs: t.crashWindowMs,
      limit: t.crashLimit,
    });
    if (entry.error) {
      this.state = 'failed';
      this.lastError = entry.error.message;
    }
  }

  get name(): string {
    return this.entry.name;
  }

  /**
   * Takes a newly read manifest. A module kept out by its old manifest becomes startable
   * (disabled) once the new one is valid; a bad new manifest marks an idle module failed.
   * A running module keeps running: the caller decides whether to restart it.
   */
  replaceEntry(entry: ModuleEntry): void {
    this.entry = entry;
    const idle = !isUp(this.state);
    if (entry.error && idle) {
      this.lastError = entry.error.message;
      if (!hasGivenUp(this.state)) this.fire('give_up');
    } else if (!entry.error && hasGivenUp(this.state) && this.lastError !== null) {
      this.lastError = null;
      this.fire('stop');
    }
    this.deps.onChange(this);
  }

  /** The child requests go to, or null (the gateway then answers 503). */
  get target(): ProxyTarget | null {
    return takesTraffic(this.state) ? (this.active?.proxy ?? null) : null;
  }

  get child(): ChildHandle | null {
    return this.active?.handle ?? null;
  }

  /** The OS wall around this module's children (DESIGN.md, Trust boundary). */
  get isolation(): 'uid' | 'process' {
    return this.deps.isolation ?? 'process';
  }

  /** Runs elsewhere (remote_url): no child of ours. */
  get remote(): boolean {
    return false;
  }

  /** Memory, CPU and event-loop lag of the serving process, from its last report. */
  get stats(): ChildStats | null {
    return this.active?.handle.stats ?? null;
  }

  /** Seconds a client should wait before retrying a request to a module that is not running. */
  get retryAfterSeconds(): number {
    if (isRetrying(this.state)) return Math.max(1, Math.ceil((this.retryAt - Date.now()) / 1000));
    return isLaunching(this.state) ? 1 : 5;
  }

  private fire(event: ModuleEvent): void {
    this.cell.fire(event);
  }

  /**
   * The target once the module is running again, if that happens within `ms`: a request
   * that arrives during a crash restart waits for the new child instead of failing.
   */
  async targetWithin(ms: number): Promise<ProxyTarget | null> {
    if (this.target || ms <= 0 || !isComingUp(this.state)) return this.target;
    if (isRetrying(this.state) && this.retryAt - Date.now() > ms) return null;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.settled(), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
    return this.target;
  }

  private settled(): Promise<void> {
    return this.cell.settled();
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    return this.cell.serial(op);
  }

  /**
   * Enable: prepare (compile, migrate), then launch a child and return; readiness or death
   * drives the state machine from there. Never waits for the child, so a stop queued behind
   * it is answered at once (issue 13 item 1). Await `outcome()` for running/failed/disabled.
   */
  start(): Promise<void> {
    return this.serial(async () => {
      if (this.entry.error) {
        this.lastError = this.entry.error.message;
        if (!hasGivenUp(this.state)) this.fire('give_up');
        return;
      }
      if (takesTraffic(this.state) || isComingUp(this.state)) return; // serving, or on its way
      await this.freshStart();
    });
  }

  /** Resolves once the module is running, failed, disabled or unreachable (whoever got it there). */
  outcome(): Promise<void> {
    return this.settled();
  }

  /**
   * Keeps a module out without a child and says why (a dependency that is not running):
   * state `failed`, last_error = reason. Called by the module set only.
   */
  hold(reason: string): Promise<void> {
    this.cancelStarting(); // a start in progress is not waited for
    return this.serial(async () => {
      if (hasGivenUp(this.state) && this.lastError === reason) return;
      await this.stopNow();
      this.lastError = reason;
      if (!hasGivenUp(this.state)) this.fire('give_up');
      else this.deps.onChange(this);
    });
  }

  /** From nothing serving to starting: prepare, then one child (not awaited). */
  private async freshStart(): Promise<void> {
    this.backoff.reset();
    this.lastError = null;
    // this start builds the files as they are now: an earlier failed reload of them is moot
    // (its outcome is this start's state and last_error)
    if (this.reloadError && !this.reloadError.startsWith(REJECTED_EDIT)) this.reloadError = null;
    this.fire('start');
    try {
      await this.prepare();
    } catch (e) {
      if (e !== CANCELLED) this.giveUp(toHubError(e).message);
      return; // cancelled: the stop queued behind this takes the module down
    }
    if (!isLaunching(this.state)) return;
    void this.spawn();
  }

  /** prepare, cancellable by stop(); rejects with CANCELLED when a stop cut it short. */
  private async prepare(): Promise<void> {
    const ac = (this.preparing = new AbortController());
    try {
      await this.deps.prepare(this.entry, ac.signal);
    } catch (e) {
      if (ac.signal.aborted) throw CANCELLED;
      throw e;
    } finally {
      if (this.preparing === ac) this.preparing = null;
    }
    if (ac.signal.aborted) throw CANCELLED;
  }

  /**
   * Disable or shut down: stop routing, drain the child, SIGKILL after the drain time. A child
   * that is still starting is killed at once, before waiting for the operation in progress,
   * so a stop never waits for a start (or a zero-downtime restart) to time out.
   */
  stop(): Promise<void> {
    this.cancelStarting();
    return this.serial(() => this.stopNow());
  }

  private async stopNow(): Promise<void> {
    clearTimeout(this.retryTimer);
    if (isOff(this.state)) return;
    if (hasGivenUp(this.state)) {
      this.fire('stop');
      return;
    }
    this.fire('stop');
    const children = [this.active, this.starting].filter((c): c is LiveChild => c !== null);
    this.active = null;
    this.starting = null;
    await Promise.all(children.map((c) => this.retire(c)));
    if (isDraining(this.state)) this.fire('stopped');
  }

  /** Kills a child that has not reported ready yet, or cuts a prepare short; its start attempt then ends at once. */
  private cancelStarting(): void {
    this.preparing?.abort(CANCELLED);
    const s = this.starting;
    if (s && s.handle.port === null) s.handle.kill('stopped', 'stopped while starting');
  }

  /**
   * Zero-downtime restart: a new child must be ready before routing switches and the old
   * one drains. If the new child never gets ready, the old one keeps serving.
   */
  restart(kind: 'restart' | 'reload' = 'restart'): Promise<void> {
    return this.serial(async () => {
      if (this.entry.error) throw new HubError('manifest_invalid', this.entry.error.message);
      if (isLaunching(this.state)) return;
      // stopped, given up or held out by the module set while this waited in the queue: a
      // restart never brings such a module back (only the module set starts modules)
      if (isOff(this.state) || hasGivenUp(this.state) || isDraining(this.state)) return;
      if (!takesTraffic(this.state) || !this.active) {
        // crashed and waiting for its retry: a restart is a fresh start, now
        clearTimeout(this.retryTimer);
        if (isRetrying(this.state)) this.fire('give_up');
        return this.freshStart();
      }
      try {
        await this.prepare();
      } catch (e) {
        if (e === CANCELLED) return; // a stop cancelled it
        throw e;
      }
      const next = await this.launch();
      try {
        await next.handle.ready;
      } catch (e) {
        const exit = e as ChildExit;
        this.starting = null;
        if (exit.reason === 'stopped') return; // a stop cancelled it
        throw new HubError('start_failed', `${kind} of ${this.name} failed, the old process keeps serving: ${exit.message}`);
      }
      if (this.starting !== next || !takesTraffic(this.state)) {
        await this.retire(next);
        return;
      }
      next.proxy = this.deps.createProxy(this.name, next.handle.port!);
      const old = this.active;
      this.active = next;
      this.starting = null;
      if (kind === 'reload') this.reloads++;
      else this.restarts++;
      // state may have moved while we awaited: read it afresh
      if (isRetrying(this.state)) {
        // the old child crashed while the new one was starting: the new one takes over
        clearTimeout(this.retryTimer);
        this.fire('retry');
      }
      if (isLaunching(this.state)) this.fire('ready');
      this.deps.onChange(this);
      // an operator's restart leaves a line in the kernel's log and the module's (reloads log in module-sync.ts)
      if (kind === 'restart' && old) {
        this.deps.log.info({ module: this.name, pid: next.handle.pid, old_pid: old.handle.pid }, `🔄 ${this.name} restarted: pid ${old.handle.pid} → ${next.handle.pid}`);
      }
      await this.retire(old);
    });
  }

  private async launch(): Promise<LiveChild> {
    const spec = await this.deps.buildSpec(this.entry);
    const handle = new ChildHandle(spec, this.deps.config.timing, this.deps.output(this.name), this.deps.spawnChild, this.deps.config.limits);
    const live: LiveChild = { handle, proxy: null };
    this.starting = live;
    void handle.exited.then((exit) => this.onExit(live, exit));
    return live;
  }

  /** Starts a child for the `starting` state; its readiness or death drives the machine. */
  private async spawn(): Promise<void> {
    let live: LiveChild;
    try {
      if (!isLaunching(this.state)) return;
      live = await this.launch();
    } catch (e) {
      this.giveUp(toHubError(e).message);
      return;
    }
    try {
      const port = await live.handle.ready;
      if (this.starting !== live || !isLaunching(this.state)) {
        // someone else (a restart, a stop) took over while this child started: it is not needed
        await this.retire(live);
        return;
      }
      live.proxy = this.deps.createProxy(this.name, port);
      this.active = live;
      this.starting = null;
      this.lastError = null;
      this.fire('ready');
    } catch {
      // the exit handler has already counted this as a crash
    }
  }

  private onExit(live: LiveChild, exit: ChildExit): void {
    live.proxy?.close();
    const wasActive = this.active === live;
    const wasStarting = this.starting === live && isLaunching(this.state);
    if (exit.reason === 'stopped' || (!wasActive && !wasStarting)) return;
    if (wasActive) this.active = null;
    if (wasStarting) this.starting = null;
    this.crashes[exit.reason] = (this.crashes[exit.reason] ?? 0) + 1;
    this.lastError = `${exit.reason}: ${exit.message}`;
    const delay = this.backoff.onCrash(exit.uptimeMs);
    if (delay === null) {
      const n = this.backoff.crashesInWindow();
      const row = this.backoff.crashesInARow();
      const what = n >= row ? `${n} crashes within ${Math.round(this.deps.config.timing.crashWindowMs / 1000)} s` : `${row} crashes in a row without a stable run`;
      this.giveUp(`crash loop: ${what}; last: ${this.lastError}. Fix the module, then enable or restart it`);
      return;
    }
    this.deps.log.warn({ module: this.name, reason: exit.reason, delay_ms: delay }, `💥 Module ${this.name} ${exit.message}; restarting in ${delay} ms`);
    this.fire('crash');
    this.restarts++;
    this.retryAt = Date.now() + delay;
    this.retryTimer = setTimeout(() => {
      if (!isRetrying(this.state)) return;
      this.fire('retry');
      void this.spawn();
    }, delay);
  }

  private giveUp(message: string): void {
    clearTimeout(this.retryTimer);
    this.lastError = message;
    this.deps.log.error({ module: this.name }, `❌ Could not load module ${this.name}: ${message}`);
    this.fire('give_up');
  }

  private async retire(live: LiveChild | null): Promise<void> {
    if (!live) return;
    await live.handle.stop(this.deps.config.timing.drainMs);
    live.proxy?.close();
  }

  /** The child's uptime since it became ready, for the module record. */
  get uptimeMs(): number {
    const readyAt = this.active?.handle.readyAt;
    return takesTraffic(this.state) && readyAt ? Date.now() - readyAt : 0;
  }
}
