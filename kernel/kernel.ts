// The kernel only wires: registry, database, the module set (kernel/module-set.ts, the one
// owner of the modules and their wanted state), logs and the two origins (public: modules,
// health, records, docs; admin: dashboard, admin API, metrics). At boot it settles each
// module's switch (kernel/boot-wishes.ts), tells the set, and stops everything on the way out.
import type { Server } from 'node:http';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { HUB_VERSION } from '../shared/paths.js';
import { checkModuleVariables, ConfigError, type KernelConfig } from './config.js';
import { openDatabase, type Database } from './database.js';
import { createAdminAuth, type AdminAuth, type Origin } from './admin-auth.js';
import { AdminSessions } from './admin-session.js';
import { ensureAdminToken } from './admin-token.js';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';
import { mountEvents } from './dashboard.js';
import { createAdminGateway, createGateway } from './gateway.js';
import { frontDoorLimits } from './front-door.js';
import { hostGuard } from './request-guards.js';
import { createKernelApp } from './kernel-routes.js';
import { ClusterSync } from './cluster-sync.js';
import { watchModules } from './hot-reload.js';
import { persistEnabled } from './manifest-writer.js';
import { decideSwitch, SeenSwitches } from './boot-wishes.js';
import { ModuleSet, type WantSource } from './module-set.js';
import { syncModules } from './module-sync.js';
import { LogHub } from './logs.js';
import { migrateKernel } from './migrator.js';
import { createModulePrep, type ModulePrep } from './module-prep.js';
import { createObservability, type Observability } from './observability.js';
import { createProxyTarget } from './proxy.js';
import { remoteUrlFor, scanModules, type ModuleEntry } from './registry.js';
import { childReadPaths } from './child-sandbox.js';
import { SparePool } from './spare-pool.js';
import { decideIsolation, describeIsolation, sealDataDir, type Isolation } from './os-isolation.js';
import { ChildSupervisor, type ModuleSupervisor, type SupervisorDeps } from './supervisor.js';
import { adminSessionBackend, createIdentity, type IdentityService } from './identity.js';
import { mountAuthRoutes } from './auth-routes.js';
import { auditAdminRequests, mountIdentityAdmin } from './identity-admin-api.js';
import { declaredOf, mountUserScreens } from './dashboard-users.js';
import { mountStartPage } from './start-page.js';
import { mountHubAssets } from './hub-assets.js';
import { Notices } from './notices.js';
import { mountNotices } from './notices-page.js';
import { RemoteModuleSupervisor } from './remote-supervisor.js';
import { takesTraffic } from '../shared/module-states.js';

export class Kernel {
  readonly logs: LogHub;
  readonly modules: ModuleSet;
  spares: SparePool;
  db: Database | null = null;
  server: Server | null = null;
  /** The admin origin's server (HUB_ADMIN_PORT). */
  adminServer: Server | null = null;
  private auths: Record<Origin, AdminAuth> | null = null;
  /** Crash, failure, recovery and enable/disable notices: the ring and HUB_NOTIFY_URL (kernel/notices.ts). */
  readonly notices: Notices;
  /** Users, sessions, tokens, grants, audit (kernel/identity.ts); set up in start(). */
  identity: IdentityService | null = null;
  private prep!: ModulePrep;
  /** "uid" (each child its own OS user) or "process" (children share the kernel's user): decided at start. */
  isolation: Isolation = { mode: 'process', reason: 'not started', runAs: () => null };
  private watcher: { close(): Promise<void> } | undefined;
  /** HUB_DATA_DIR/kernel.lock: one kernel per data folder. */
  private dataLock: DataDirLock | null = null;
  /** Present when there is a database: enable/disable agreed with other kernels on it. */
  cluster: ClusterSync | null = null;
  /** True once every wanted module has had its first attempt (GET /health/ready). */
  ready = false;
  private readonly seen: SeenSwitches;
  private stopping = false;
  private observability: Observability | null = null;

  constructor(
    readonly config: KernelConfig,
    readonly log: Logger,
    private readonly mountRoutes: (app: Express, kernel: Kernel, origin: Origin) => void = () => undefined,
  ) {
    const l = config.limits;
    this.logs = new LogHub(config.dataDir, log, true, { maxBytes: l.logMaxBytes, keep: l.logFiles, ringBytes: l.logRingBytes, echoPerSec: l.logEchoPerSec });
    this.spares = new SparePool(0, null); // replaced in start(), once the modules are known
    this.seen = new SeenSwitches(config.dataDir);
    this.modules = new ModuleSet({
      log,
      modulesDir: config.modulesDir,
      supervise: (e) => this.supervise(e),
      persist: (sup, enabled, source) => this.persist(sup, enabled, source),
    });
    this.notices = new Notices(config.notify, log);
    this.modules.onChange((sup) => this.notices.observe(sup));
  }

  get routes() {
    return this.modules.routes;
  }

  supervisors(): ModuleSupervisor[] {
    return this.modules.list();
  }

  supervisor(name: string): ModuleSupervisor | undefined {
    return this.modules.get(name);
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
    return this.modules.get(name)?.remote ? remoteSecret(name) : this.prep.secretOf(name);
  }

  /** Called on every state change of any module (for live views). */
  onChange(fn: (sup: ModuleSupervisor) => void): () => void {
    return this.modules.onChange(fn);
  }

  async start(): Promise<void> {
    const { config, log } = this;
    await mkdir(config.dataDir, { recursive: true });
    this.dataLock = lockDataDir(config.dataDir);
    log.info(`🚀 BMC Hub ${HUB_VERSION} starting (modules: ${config.modulesDir}, data: ${config.dataDir})`);
    const admin = await ensureAdminToken(config.dataDir, config.adminToken);
    if (admin.source === 'created') log.info(`🔑 Admin token created in ${admin.file} (mode 0600); hubctl on this machine reads it`);
    const sessions = new AdminSessions();
    this.auths = { public: createAdminAuth(admin.token, 'public', null), admin: createAdminAuth(admin.token, 'admin', sessions) };
    this.isolation = decideIsolation(config.dataDir, config.isolation, config.uidBase);
    describeIsolation(this.isolation, log);
    if (config.databaseEnabled) {
      this.db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log, pgLogMaxBytes: config.limits.pgLogMaxBytes });
      await migrateKernel(this.db, { settings: config.migration });
    }
    if (this.isolation.mode === 'uid') sealDataDir(config.dataDir);
    this.prep = createModulePrep(config, this.db, log, this.isolation, () => (this.adminServer ? this.adminPort : null));
    await this.seen.load();
    const identity = (this.identity = await createIdentity(this.db, admin.token, config.dataDir, log, (n) => this.secretOf(n)));
    if (identity.store && identity.cache) sessions.useBackend(adminSessionBackend(identity.store, identity.cache));

    const entries = config.modulesEnabled ? await scanModules(config.modulesDir, HUB_VERSION) : [];
    if (!config.modulesEnabled) log.info('MODULES_ENABLED=false: starting with no modules');
    else {
      const problems = checkModuleVariables(process.env, entries.map((e) => e.name));
      if (problems.length > 0) throw new ConfigError(problems);
    }
    for (const e of entries) this.announce(this.modules.add(e).entry);
    this.spares = new SparePool(config.spareChildren, config.childPermissions ? childReadPaths(config, entries) : null);

    // metrics, API docs and dashboard; `observe` counts and times every proxied module request
    const observability = (this.observability = createObservability(this));
    if (this.db) this.cluster = new ClusterSync(this.db);
    await this.settleSwitches();
    observability.start();

    const publicApp = createKernelApp(this, (a) => {
      a.use(auditAdminRequests(identity, (req) => this.adminAuth('public').isAdmin(req), 'public'));
      mountStartPage(a, this, identity);
      mountHubAssets(a);
      mountAuthRoutes(a, identity, { secureCookies: config.secureCookies, oidc: config.oidc });
      // users, grants and audit are admin routes like enable/disable: on the public origin they
      // answer the admin bearer only (DESIGN.md "Two origins"), never a cookie
      mountIdentityAdmin(a, identity, this.adminAuth('public').guard, (m) => declaredOf(this, m));
      this.mountRoutes(a, this, 'public');
      mountEvents(a, this, this.adminAuth('public').guard);
      observability.mountPublic(a);
    });
    const adminApp = createKernelApp(this, (a) => {
      a.use(sessions.middleware);
      a.use(auditAdminRequests(identity, (req) => this.adminAuth('admin').isAdmin(req)));
      mountIdentityAdmin(a, identity, this.adminAuth('admin').guard, (m) => declaredOf(this, m));
      mountUserScreens(a, this, identity);
      this.mountRoutes(a, this, 'admin');
      observability.mountAdmin(a, sessions);
      mountNotices(a, this);
    });
    const doors = frontDoorLimits(config.limits);
    this.server = createGateway(this.routes, publicApp, config.holdMs, observability.observe, hostGuard(config.host, config.allowedHosts), identity.gate, doors);
    this.adminServer = createAdminGateway(adminApp, hostGuard(config.adminHost, config.allowedHosts), doors);
    await listen(this.server, config.port, config.host);
    log.info(`🌐 Gateway listening on http://${urlHost(config.host)}:${this.port}`);
    await listen(this.adminServer, config.adminPort, config.adminHost);
    log.info(`🔐 Admin listening on http://${urlHost(config.adminHost)}:${this.adminPort} (dashboard, admin API, /metrics)`);

    // the cluster listener and the watcher first: neither waits for a module to get ready
    await this.cluster?.listen(async (name, enabled) => {
      const sup = this.modules.get(name);
      if (sup && !sup.entry.error) await this.modules.want(sup, enabled, 'cluster');
    }, this);
    if (config.autoReload && config.modulesEnabled) {
      this.watcher = await watchModules(config.modulesDir, log, (changed) => syncModules(this.modules, config.modulesDir, log, changed));
    }
    this.modules.reconcileAll();
    await this.modules.firstAttempts(config.timing.startTimeoutMs);
    if (this.stopping) return;
    this.ready = true;
    this.spares.fill();
    const running = this.supervisors().filter((s) => takesTraffic(s.state)).map((s) => s.name);
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

  private announce(entry: ModuleEntry): void {
    if (entry.manifest) {
      this.log.info(`📦 Found module ${entry.name} v${entry.manifest.version} (enabled=${entry.manifest.enabled})`);
      for (const w of entry.warnings) this.log.warn({ module: entry.name }, `⚠️  ${w}`);
    }
    if (entry.error) {
      this.log.error({ module: entry.name, code: entry.error.code }, `❌ Could not load module ${entry.name}: ${entry.error.message}`);
    }
  }

  private supervise(entry: ModuleEntry): ModuleSupervisor {
    const deps: SupervisorDeps = {
      config: this.config,
      log: this.log,
      isolation: this.isolation.mode,
      prepare: (e, signal) => this.prep.prepare(e, signal),
      buildSpec: async (e) => {
        const spec = await this.prep.buildSpec(e);
        sup.dbIsolation = this.prep.isolation(e.name);
        return spec;
      },
      // a number is a child's port, a string a remote module's URL
      createProxy: (name, to) => createProxyTarget(name, to, typeof to === 'string' ? remoteSecret(name) : this.prep.secretOf(name)),
      spawnChild: (maxMemoryMb) => this.spares.take(maxMemoryMb),
      output: (name) => this.logs.sink(name),
      onChange: (s) => this.modules.changed(s),
    };
    const remoteUrl = remoteUrlFor(entry);
    const sup: ModuleSupervisor = remoteUrl
      ? new RemoteModuleSupervisor(entry, deps, remoteUrl, this.config.remoteCheckMs, () => remoteSecret(entry.name))
      : new ChildSupervisor(entry, deps);
    return sup;
  }

  /**
   * Makes a wish durable. From the API or the cluster: module.json is rewritten (a read-only
   * modules folder, an image or a ConfigMap, only gets a warning). From the API or a
   * module.json edit: recorded in hub_module_state and announced to the other kernels.
   */
  private async persist(sup: ModuleSupervisor, enabled: boolean, source: WantSource): Promise<void> {
    if (!sup.entry.manifest) return;
    // what module.json says once this is done: the wish (written, or it came from the file),
    // or, when the file could not be written, what it said before
    let fileSays = source === 'module.json' ? enabled : sup.entry.manifest.enabled;
    if (source === 'api' || source === 'cluster') {
      // against the file itself, not the parsed copy: a re-read racing this write may have
      // replaced the copy with what the file said a moment ago (persistEnabled writes only a change)
      try {
        await persistEnabled(sup.entry.dir, enabled);
        fileSays = enabled;
        if (sup.entry.manifest) sup.entry.manifest.enabled = enabled; // the parsed manifest mirrors the file
      } catch (e) {
        if (source === 'api') throw e;
        this.log.warn({ module: sup.name }, `could not write modules/${sup.name}/module.json (${(e as Error).message}); following the database`);
      }
    }
    // published before it is remembered as seen: if publishing fails (or the kernel dies in
    // between), the next start finds module.json differing from what it saw, takes it for the
    // edit it is and publishes it, instead of following the stale record back
    if (source === 'api' || source === 'module.json') await this.cluster?.record(sup.name, enabled);
    await this.seen.set(sup.name, fileSays);
  }

  /** Boot: each module's switch from module.json, this kernel's memory of it and the cluster (kernel/boot-wishes.ts). */
  private async settleSwitches(): Promise<void> {
    const recorded = (await this.cluster?.recorded()) ?? new Map<string, { enabled: boolean; at: number }>();
    for (const sup of this.supervisors()) {
      const m = sup.entry.manifest;
      if (!m || sup.entry.error) continue;
      const fileAt = await stat(join(sup.entry.dir, 'module.json')).then((s) => s.mtimeMs, () => 0);
      const d = decideSwitch(sup.name, { file: m.enabled, fileAt, seen: this.seen.get(sup.name), cluster: recorded.get(sup.name) });
      if (d.line) this.log.info({ module: sup.name }, d.line);
      const source: WantSource = d.source === 'cluster' ? 'cluster' : 'module.json';
      const needsRecord = d.source === 'file' && recorded.get(sup.name)?.enabled !== d.enabled;
      sup.wanted = d.enabled;
      if (d.source === 'cluster' || needsRecord) await this.persist(sup, d.enabled, source);
      else await this.seen.set(sup.name, m.enabled);
    }
  }

  async stop(): Promise<void> {
    const { log } = this;
    this.stopping = true;
    log.info('🛑 Stopping: draining modules');
    const servers = [this.server, this.adminServer].filter((s): s is Server => s !== null && s.listening);
    const closing = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const s of servers) s.closeIdleConnections();
    await this.watcher?.close();
    this.spares.close();
    this.observability?.close();
    await this.modules.stopAll();
    this.notices.stop();
    for (const s of servers) s.closeAllConnections();
    await this.cluster?.close();
    await this.identity?.close();
    await closing;
    await this.db?.close();
    await this.logs.close();
    this.dataLock?.release();
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
