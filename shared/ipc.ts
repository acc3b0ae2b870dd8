// The whole kernel↔child protocol: one typed union each way, imported by both sides.
import type { Manifest } from './manifest.js';

export interface DbConnection {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
}

/** Everything a child needs to become one module; sent once, right after fork. */
export interface ModuleSpec {
  name: string;
  manifest: Manifest;
  /**
   * The module's own non-code files (templates, module.json): a staged copy beside its
   * compiled code, so the child never needs to read the module's source folder.
   */
  moduleDir: string;
  /** Where the kernel put the module's transpiled JavaScript. */
  buildDir: string;
  /** Only this module's MODULES__<NAME>__<KEY> values, keyed by KEY. */
  config: Record<string, string>;
  db: DbConnection | null;
  hubVersion: string;
  logLevel: string;
  /**
   * The kernel secret: every request the kernel sends this module carries it in the
   * `x-hub-secret` header, and the runtime answers 403 to any request without it
   * (shared/runtime/kernel-secret.ts). Never empty.
   */
  secret: string;
  /**
   * "uid" isolation: the child drops to this uid/gid (supplementary groups cleared) before
   * any module code loads, and exits if it could regain root. Null: stay the kernel's user.
   */
  runAs?: { uid: number; gid: number } | null;
  /**
   * What ctx.page's layout links to (shared/runtime/hub-layout.ts): the admin origin's port,
   * for a plain "Dashboard" link. Absent when a module is served on its own (hubctl serve-module).
   */
  hub?: { adminPort: number | null };
}

export interface ChildStats {
  rss: number;
  heapUsed: number;
  /** Event-loop lag seen by the child since the last heartbeat, in ms. */
  loopLagMs: number;
  /** Process CPU time (user+system) in microseconds since start. */
  cpuMicros: number;
  /**
   * CPU use over the last ~2 s in % of one core, measured by the kernel from /proc (never sent
   * by a child; kernel/child-process.ts sets it); absent where the kernel cannot read /proc.
   */
  cpuPercent?: number;
}

export type KernelToChild =
  | { type: 'init'; spec: ModuleSpec }
  | { type: 'ping'; seq: number }
  | { type: 'shutdown'; drainMs: number };

export type ChildToKernel =
  | { type: 'ready'; port: number }
  | { type: 'pong'; seq: number; stats: ChildStats }
  /** The module could not be loaded (bad router, throw at import); the child exits right after. */
  | { type: 'load_failed'; message: string; stack?: string }
  | { type: 'drained' };

export function isChildMessage(m: unknown): m is ChildToKernel {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}

export function isKernelMessage(m: unknown): m is KernelToChild {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}
