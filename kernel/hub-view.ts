// What the kernel's routes and views may see of it: the module set, settings, logs, ports
// and the admin check. Admin API, dashboard and observability take this, not the Kernel
// class, so none of them imports kernel.ts (no import cycle in kernel/).
import type { AdminAuth, Origin } from './admin-auth.js';
import type { KernelConfig } from './config.js';
import type { LogHub } from './logs.js';
import type { ModuleSet } from './module-set.js';
import type { ModuleSupervisor } from './supervisor.js';
import type { Notices } from './notices.js';

export interface HubView {
  readonly config: KernelConfig;
  readonly logs: LogHub;
  readonly modules: ModuleSet;
  /** The public origin's port (module UIs, docs). */
  readonly port: number;
  readonly adminPort: number;
  /** Crash/failure/recovery/switch notices (kernel/notices.ts). */
  readonly notices: Notices;
  adminAuth(origin: Origin): AdminAuth;
  secretOf(name: string): string;
  supervisors(): ModuleSupervisor[];
  supervisor(name: string): ModuleSupervisor | undefined;
  onChange(fn: (sup: ModuleSupervisor) => void): () => void;
}
