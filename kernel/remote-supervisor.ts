// A module that runs elsewhere (its own container or host, `remote_url` or
// MODULES__<NAME>__URL): the kernel starts no child for it. It still migrates the
// module's tables, proxies its prefixes to the URL, and health-checks it on an interval:
// `running` while it answers, `unreachable` (requests get 503 + Retry-After) while not.
// Every request the kernel sends it, checks included, carries the kernel secret that the
// operator configured on both sides (MODULES__<NAME>__SECRET): a remote module answers
// only its kernel, like a forked child.
import type { ChildStats } from '../shared/ipc.js';
import { toHubError } from '../shared/errors.js';
import { KERNEL_SECRET_HEADER } from '../shared/runtime/kernel-secret.js';
import { hasGivenUp, isDraining, isLaunching, isOff, isStarted, isUp, takesTraffic, type ModuleState } from '../shared/module-states.js';
import type { ChildHandle } from './child-process.js';
import type { ModuleEvent } from './module-state.js';
import type { ProxyTarget } from './proxy.js';
import type { ModuleEntry } from './registry.js';
import { StateCell } from './state-cell.js';
import type { ModuleSupervisor, SupervisorDeps } from './supervisor.js';

/** Largest /_hub/stats answer read from a remote module (a few hundred bytes are normal). */
const MAX_STATS_BYTES = 64 * 1024;

/** A response body as text, or null (and the read cancelled) once it passes `limit` bytes. */
async function readAtMost(res: Response, limit: number): Promise<string | null> {
  if (!res.body) return '';
  if (Number(res.headers.get('content-length') ?? 0) > limit) {
    await res.body.cancel().catch(() => undefined);
    return null;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks).toString('utf8');
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
}

/** No child machinery: a state cell (composed, shared with ChildSupervisor), a proxy and a poll. */
export class RemoteModuleSupervisor implements ModuleSupervisor {
  state: ModuleState = 'disabled';
  lastError: string | null = null;
  readonly restarts = 0;
  readonly reloads = 0;
  reloadError: string | null = null;
  wanted = false;
  readonly crashes: Record<string, number> = {};
  dbIsolation: 'role' | 'shared' | 'none' = 'none';
  readonly child: ChildHandle | null = null;
  readonly remote = true;
  private proxy: ProxyTarget | null = null;
  private poll: NodeJS.Timeout | undefined;
  private remoteStats: ChildStats | null = null;
  private upSince = 0;
  private readonly cell: StateCell<RemoteModuleSupervisor>;

  constructor(
    public entry: ModuleEntry,
    private readonly deps: SupervisorDeps,
    readonly url: string,
    private readonly intervalMs: number,
    private readonly secret: () => string,
  ) {
    this.cell = new StateCell<RemoteModuleSupervisor>(this, (s) => deps.onChange(s));
    if (entry.error) {
      this.state = 'failed';
      this.lastError = entry.error.message;
    }
  }

  get name(): string {
    return this.entry.name;
  }

  /** Its process is not ours: the isolation tier is whatever runs it (reported as the kernel's). */
  get isolation(): 'uid' | 'process' {
    return this.deps.isolation ?? 'process';
  }

  private fire(event: ModuleEvent): void {
    this.cell.fire(event);
  }

  /** The prepare (migrations) of a start in progress; a stop or hold cancels it. */
  private preparing: AbortController | null = null;

  private serial<T>(op: () => Promise<T>): Promise<T> {
    return this.cell.serial(op);
  }

  private giveUp(message: string): void {
    this.lastError = message;
    this.deps.log.error({ module: this.name }, `❌ Could not load module ${this.name}: ${message}`);
    this.fire('give_up');
  }

  replaceEntry(entry: ModuleEntry): void {
    this.entry = entry;
    if (entry.error && !isUp(this.state)) {
      this.lastError = entry.error.message;
      if (!hasGivenUp(this.state)) this.fire('give_up');
    } else if (!entry.error && hasGivenUp(this.state) && this.lastError !== null) {
      this.lastError = null;
      this.fire('stop');
    }
    this.deps.onChange(this);
  }

  /** A remote module is checked, not started: a request never waits for it. */
  async targetWithin(): Promise<ProxyTarget | null> {
    return this.target;
  }

  outcome(): Promise<void> {
    return this.cell.settled();
  }

  hold(reason: string): Promise<void> {
    this.preparing?.abort(); // a start in progress is not waited for
    return this.serial(async () => {
      if (hasGivenUp(this.state) && this.lastError === reason) return;
      clearInterval(this.poll);
      if (isUp(this.state)) this.fire('stop');
      if (isDraining(this.state)) this.fire('stopped');
      this.proxy?.close();
      this.proxy = null;
      this.lastError = reason;
      if (!hasGivenUp(this.state)) this.fire('give_up');
      else this.deps.onChange(this);
    });
  }

  /** Headers for the kernel's own requests to the module (the kernel secret). */
  private headers(): Record<string, string> {
    return { [KERNEL_SECRET_HEADER]: this.secret() };
  }

  get target(): ProxyTarget | null {
    return takesTraffic(this.state) ? this.proxy : null;
  }

  get stats(): ChildStats | null {
    return this.remoteStats;
  }

  get uptimeMs(): number {
    return takesTraffic(this.state) ? Date.now() - this.upSince : 0;
  }

  get retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.intervalMs / 1000));
  }

  start(): Promise<void> {
    return this.serial(async () => {
      if (this.entry.error) {
        this.lastError = this.entry.error.message;
        if (!hasGivenUp(this.state)) this.fire('give_up');
        return;
      }
      if (isStarted(this.state)) return;
      this.fire('start');
      const ac = (this.preparing = new AbortController());
      try {
        await this.deps.prepare(this.entry, ac.signal); // migrations are the kernel's job, wherever the code runs
        if (ac.signal.aborted) return;
      } catch (e) {
        if (!ac.signal.aborted) this.giveUp(toHubError(e).message);
        return; // cancelled: the stop queued behind this takes the module down
      } finally {
        if (this.preparing === ac) this.preparing = null;
      }
      this.proxy = this.deps.createProxy(this.name, this.url);
      await this.check();
      clearInterval(this.poll);
      this.poll = setInterval(() => void this.check(), this.intervalMs);
      this.poll.unref();
    });
  }

  stop(): Promise<void> {
    this.preparing?.abort(); // a start in progress is not waited for
    return this.serial(async () => {
      clearInterval(this.poll);
      if (isOff(this.state)) return;
      this.fire('stop');
      if (isDraining(this.state)) this.fire('stopped');
      this.proxy?.close();
      this.proxy = null;
    });
  }

  /** For a remote module a restart is a fresh health check (its process is not ours to restart). */
  restart(): Promise<void> {
    // not started (stopped, failed, held): only the module set starts a module
    return this.serial(async () => {
      if (isStarted(this.state)) await this.check();
    });
  }

  private async check(): Promise<void> {
    const health = `${this.url}${this.entry.manifest!.api_prefix}/health`;
    try {
      // redirect 'manual': a 3xx is an answer like any other (not 200), never a place for the kernel to go
      const res = await fetch(health, { headers: this.headers(), redirect: 'manual', signal: AbortSignal.timeout(Math.min(2000, this.intervalMs * 2)) });
      await res.body?.cancel().catch(() => undefined);
      if (res.status === 403) {
        const env = `MODULES__${this.name.toUpperCase()}__SECRET`;
        throw new Error(`health check answered 403: the module refused the kernel secret; set ${env} to the same value for the kernel and for serve-module`);
      }
      if (res.status !== 200) throw new Error(`health check answered ${res.status}`);
      this.remoteStats = await this.fetchStats();
      if (!takesTraffic(this.state)) {
        this.upSince = Date.now();
        this.lastError = null;
        this.deps.log.info({ module: this.name }, `🛰️  Remote module ${this.name} is reachable at ${this.url}`);
        this.fire('ready');
      }
    } catch (e) {
      const why = (e as Error).name === 'TimeoutError' ? 'no answer in time' : ((e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message);
      this.lastError = `unreachable: GET ${health} failed (${why})`;
      if (takesTraffic(this.state) || isLaunching(this.state)) {
        this.deps.log.warn({ module: this.name }, `🛰️  Remote module ${this.name} is unreachable: ${why}`);
        this.fire('lost');
      }
    }
  }

  private async fetchStats(): Promise<ChildStats | null> {
    try {
      const res = await fetch(`${this.url}/_hub/stats`, { headers: this.headers(), redirect: 'manual', signal: AbortSignal.timeout(1000) });
      if (!res.ok) {
        await res.body?.cancel().catch(() => undefined);
        return null;
      }
      const text = await readAtMost(res, MAX_STATS_BYTES);
      return text === null ? null : (JSON.parse(text) as ChildStats);
    } catch {
      return null;
    }
  }
}
