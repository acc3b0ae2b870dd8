// The kernel: wires registry, database, supervisors, logs and the two origins together
// (public: modules, health, records, docs; admin: dashboard, admin API, metrics), starts
// enabled modules in dependency order and stops everything on the way out.
import type { Server } from 'node:http';
import { mkdir } from 'node:fs/promises';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { HUB_VERSION } from '../shared/paths.js';
import { parseDependency } from '../shared/manifest.js';
import type { KernelConfig } from './config.js';
import { openDatabase, type Database } from './database.js';
import { createAdminAuth, type AdminAuth, type Origin } from './admin-auth.js';
import { AdminSessions } from './admin-session.js';
import { ensureAdminToken } from './admin-token.js';
import { mountEvents } from './dashboard.js';
import { createAdminGateway, createGateway } from './gateway.js';
import { hostGuard } from './request-guards.js';
import { createKernelApp } from './kernel-routes.js';
import { ClusterSync } from './cluster-sync.js';
import { watchModules } from './hot-reload.js';
import { persistEnabled } from './manifest-writer.js';
import { disableModule, enableModule } from './module-actions.js';
import { LogHub } from './logs.js';
import { migrateKernel } from './migrator.js';
import { createModulePrep, type ModulePrep } from './module-prep.js';
import { createObservability } from './observability.js';
import { createProxyTarget } from './proxy.js';
import { remoteUrlFor, scanModules, type ModuleEntry } from './registry.js';
import { RouteTable } from './route-table.js';
import { childReadPaths } from './child-sandbox.js';
import { SparePool } from './spare-pool.js';
import { decideIsolation, describeIsolation, sealDataDir, type Isolation } from './os-isolation.js';
import { ModuleSupervisor, type SupervisorDeps } from './supervisor.js';
import { adminSessionBackend, createIdentity, type IdentityService } from './identity.js';
import { mountAuthRoutes } from './auth-routes.js';
import { auditAdminRequests, mountIdentityAdmin } from './identity-admin-api.js';
import { mountUserScreens } from './dashboard-users.js';
import { mountStartPage } from './start-page.js';
import { RemoteModuleSupervisor } from './remote-supervisor.js';

export class Kernel {
  readonly routes = new RouteTable<ModuleSupervisor>();
  readonly sups = new Map<string, ModuleSupervisor>();
  readonly logs: LogHub;
  spares: SparePool;
  db: Database | null = null;
  server: Server | null = null;
  /** The admin origin's server (HUB_ADMIN_PORT). */
  adminServer: Server | null = null;
  private auths: Record<Origin, AdminAuth> | null = null;
  /** Users, sessions, tokens, grants, audit (kernel/identity.ts); set up in start(). */
  identity: IdentityService | null = null;
  private prep!: ModulePrep;
  /** "uid" (each child its own OS user) or "process" (children share the kernel's user): decided at start. */
  isolation: Isolation = { mode: 'process', reason: 'not started', runAs: () => null };
  private watcher: { close(): Promise<void> } | undefined;
  /** Present when there is a database: enable/disable agreed with other kernels on it. */
  cluster: ClusterSync | null = null;
  /** True once the enabled modules have had their first start (GET /health/ready). */
  ready = false;
  private order: string[] = [];
  private readonly listeners = new Set<(sup: ModuleSupervisor) => void>();

  constructor(
    readonly config: KernelConfig,
    readonly log: Logger,
    private readonly mountRoutes: (app: Express, kernel: Kernel, origin: Origin) => void = () => undefined,
  ) {
    this.logs = new LogHub(config.dataDir, log, true);
    this.spares = new SparePool(0, null); // replaced in start(), once the modules are known
  }

  supervisors(): ModuleSupervisor[] {
    return this.order.map((n) => this.sups.get(n)!).filter(Boolean);
  }

  supervisor(name: string): ModuleSupervisor | undefined {
    return this.sups.get(name);
  }

  /** The admin check for one origin (bearer only on the public one); set up in start(). */
  adminAuth(origin: Origin): AdminAuth {
    if (!this.auths) throw new Error('the admin credential is not loaded yet');
    return this.auths[origin];
  }

  /**
   * The secret the kernel sends with every request to a module (shared/runtime/kernel-secret.ts):
   * for a forked child the one its spec carries; for a remote module MODULES__<NAME>__SECRET,
   * configured on both sides (empty when unset: the remote module then refuses the kernel).
   */
  secretOf(name: string): string {
    return this.sups.get(name)?.remote ? remoteSecret(name) : this.prep.secretOf(name);
  }

  /** Called on every state change of any module (for live views). */
  onChange(fn: (sup: ModuleSupervisor) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async start(): Promise<void> {
    const { config, log } = this;
    await mkdir(config.dataDir, { recursive: true });
    log.info(`🚀 BMC Hub ${HUB_VERSION} starting (modules: ${config.modulesDir}, data: ${config.dataDir})`);
    const admin = await ensureAdminToken(config.dataDir, config.adminToken);
    if (admin.source === 'created') log.info(`🔑 Admin token created in ${admin.file} (mode 0600); hubctl on this machine reads it`);
    const sessions = new AdminSessions();
    this.auths = { public: createAdminAuth(admin.token, 'public', null), admin: createAdminAuth(admin.token, 'admin', sessions) };
    this.isolation = decideIsolation(config.dataDir);
    describeIsolation(this.isolation, log);
    if (config.databaseEnabled) {
      this.db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log });
      await migrateKernel(this.db);
    }
    if (this.isolation.mode === 'uid') sealDataDir(config.dataDir);
    this.prep = createModulePrep(config, this.db, log, this.isolation);
    const identity = (this.identity = await createIdentity(this.db, admin.token, config.dataDir, log, (n) => this.secretOf(n)));
    if (identity.store && identity.cache) sessions.useBackend(adminSessionBackend(identity.store, identity.cache));

    const entries = config.modulesEnabled ? await scanModules(config.modulesDir, HUB_VERSION) : [];
    if (!config.modulesEnabled) log.info('MODULES_ENABLED=false: starting with no modules');
    for (const e of entries) this.register(e);
    this.spares = new SparePool(config.spareChildren, config.childPermissions ? childReadPaths(config, entries) : null);

    // metrics, API docs and dashboard; `observe` counts and times every proxied module request
    const observability = createObservability(this);
    if (this.db) {
      this.cluster = new ClusterSync(this.db);
      await this.adoptClusterState(this.cluster);
    }

    const publicApp = createKernelApp(this, (a) => {
      mountStartPage(a, this, identity);
      mountAuthRoutes(a, identity);
      this.mountRoutes(a, this, 'public');
      mountEvents(a, this, this.adminAuth('public').guard);
      observability.mountPublic(a);
    });
    const adminApp = createKernelApp(this, (a) => {
      a.use(sessions.middleware);
      a.use(auditAdminRequests(identity, (req) => this.adminAuth('admin').isAdmin(req)));
      mountIdentityAdmin(a, identity, this.adminAuth('admin').guard);
      mountUserScreens(a, this, identity);
      this.mountRoutes(a, this, 'admin');
      observability.mountAdmin(a, sessions);
    });
    this.server = createGateway(this.routes, publicApp, config.holdMs, observability.observe, hostGuard(config.host, config.allowedHosts), identity.gate);
    this.adminServer = createAdminGateway(adminApp, hostGuard(config.adminHost, config.allowedHosts));
    await listen(this.server, config.port, config.host);
    log.info(`🌐 Gateway listening on http://${urlHost(config.host)}:${this.port}`);
    await listen(this.adminServer, config.adminPort, config.adminHost);
    log.info(`🔐 Admin listening on http://${urlHost(config.adminHost)}:${this.adminPort} (dashboard, admin API, /metrics)`);

    await this.startEnabled();
    this.ready = true;
    this.spares.fill();
    await this.cluster?.listen((name, enabled) => (enabled ? enableModule(this, name) : disableModule(this, name)).then(() => undefined), this);
    if (config.autoReload && config.modulesEnabled) this.watcher = await watchModules(this);
    const running = this.supervisors().filter((s) => s.state === 'running').map((s) => s.name);
    log.info(`✅ Loaded ${running.length} modules: [${running.join(', ')}]`);
  }

  get port(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : this.config.port;
  }

  get adminPort(): number {
    const a = this.adminServer?.address();
    return a && typeof a === 'object' ? a.port : this.config.adminPort;
  }

  /** Points the module's api_prefix and /<name> at its supervisor (after removing old ones). */
  route(sup: ModuleSupervisor, previous: ModuleEntry | null = null): void {
    if (previous?.manifest) this.routes.delete(previous.manifest.api_prefix);
    if (sup.entry.manifest && !sup.entry.error) {
      this.routes.set(sup.entry.manifest.api_prefix, sup);
      this.routes.set(`/${sup.name}`, sup);
    } else {
      this.routes.delete(`/${sup.name}`);
    }
  }

  /** Forgets a module whose folder is gone; its child must already be stopped. */
  unregister(name: string): void {
    const sup = this.sups.get(name);
    if (!sup) return;
    if (sup.entry.manifest) this.routes.delete(sup.entry.manifest.api_prefix);
    this.routes.delete(`/${name}`);
    this.sups.delete(name);
    this.order = this.order.filter((n) => n !== name);
  }

  register(entry: ModuleEntry): ModuleSupervisor {
    const { log } = this;
    const deps: SupervisorDeps = {
      config: this.config,
      log,
      isolation: this.isolation.mode,
      prepare: (e) => this.prep.prepare(e),
      buildSpec: async (e) => {
        const spec = await this.prep.buildSpec(e);
        sup.dbIsolation = this.prep.isolation(e.name);
        return spec;
      },
      // a number is a child's port, a string a remote module's URL
      createProxy: (name, to) => createProxyTarget(name, to, typeof to === 'string' ? remoteSecret(name) : this.prep.secretOf(name)),
      spawnChild: (maxMemoryMb) => this.spares.take(maxMemoryMb),
      output: (name) => this.logs.sink(name),
      onChange: (s) => {
        for (const fn of this.listeners) fn(s);
      },
    };
    const remoteUrl = remoteUrlFor(entry);
    const sup = remoteUrl
      ? new RemoteModuleSupervisor(entry, deps, remoteUrl, this.config.remoteCheckMs, () => remoteSecret(entry.name))
      : new ModuleSupervisor(entry, deps);
    this.sups.set(entry.name, sup);
    this.order.push(entry.name);
    if (entry.manifest) {
      log.info(`📦 Found module ${entry.name} v${entry.manifest.version} (enabled=${entry.manifest.enabled})`);
      for (const w of entry.warnings) log.warn(`⚠️  ${w}`);
    }
    if (entry.error) {
      log.error({ module: entry.name, code: entry.error.code }, `❌ Could not load module ${entry.name}: ${entry.error.message}`);
    }
    this.route(sup);
    return sup;
  }

  /**
   * With a shared database the recorded on/off switches win over this kernel's module.json
   * files, so a kernel that starts later (or was down during a change) converges. Modules the
   * cluster has no record of are recorded as this kernel found them.
   */
  private async adoptClusterState(cluster: ClusterSync): Promise<void> {
    const recorded = await cluster.recorded();
    for (const sup of this.supervisors()) {
      const m = sup.entry.manifest;
      if (!m || sup.entry.error) continue;
      const decided = recorded.get(sup.name);
      if (decided === undefined) {
        await cluster.record(sup.name, m.enabled);
      } else if (decided !== m.enabled) {
        this.log.info({ module: sup.name }, `🔗 Adopting the cluster's decision: ${sup.name} is ${decided ? 'enabled' : 'disabled'}`);
        m.enabled = decided;
        // a read-only modules folder (an image, a ConfigMap) must not stop the kernel: the
        // database is the record, the file only a convenience for the next single-kernel start
        await persistEnabled(sup.entry.dir, decided).catch((e: Error) =>
          this.log.warn({ module: sup.name }, `could not write modules/${sup.name}/module.json (${e.message}); following the database`),
        );
      }
    }
  }

  /** Starts every enabled module once the modules it depends on have settled. */
  private async startEnabled(): Promise<void> {
    const started = new Map<string, Promise<void>>();
    const startOne = (sup: ModuleSupervisor): Promise<void> => {
      let p = started.get(sup.name);
      if (!p) {
        const deps = (sup.entry.manifest?.dependencies ?? [])
          .map((d) => this.sups.get(parseDependency(d).name))
          .filter((d): d is ModuleSupervisor => d !== undefined && d.entry.manifest?.enabled === true);
        p = Promise.all(deps.map(startOne)).then(() => sup.start());
        started.set(sup.name, p);
      }
      return p;
    };
    await Promise.all(this.supervisors().filter((s) => s.entry.manifest?.enabled && !s.entry.error).map(startOne));
  }

  async stop(): Promise<void> {
    const { log } = this;
    log.info('🛑 Stopping: draining modules');
    const servers = [this.server, this.adminServer].filter((s): s is Server => s !== null && s.listening);
    const closing = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const s of servers) s.closeIdleConnections();
    await this.watcher?.close();
    this.spares.close();
    await Promise.all(this.supervisors().map((s) => s.stop()));
    for (const s of servers) s.closeAllConnections();
    await this.cluster?.close();
    await this.identity?.close();
    await closing;
    await this.db?.close();
    await this.logs.close();
    log.info('👋 Stopped');
  }
}

/** A remote module's kernel secret, set by the operator for both sides: MODULES__<NAME>__SECRET. */
function remoteSecret(name: string): string {
  return process.env[`MODULES__${name.toUpperCase()}__SECRET`] ?? '';
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

/** A bind address as it goes in a URL (IPv6 in brackets). */
function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
