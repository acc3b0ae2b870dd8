// Serving one module: build its context and app, listen, and drain on request. Both
// drivers use this — the forked child (told what to be over IPC) and the standalone
// runner (`hubctl serve-module`, told by its environment) — so a module behaves the same
// under the kernel and in its own container.
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { ModuleSpec } from '../ipc.js';
import { buildModuleApp } from './module-app.js';
import { createContext } from './context.js';

export interface ServingModule {
  port: number;
  /** Stops accepting, lets in-flight requests finish (at most drainMs), closes pools. */
  drain(drainMs: number): Promise<void>;
}

export async function serveModule(spec: ModuleSpec, log: Logger, listen: { host: string; port: number }): Promise<ServingModule> {
  const runtime = createContext(spec, log);
  let server: Server;
  try {
    const app = await buildModuleApp(spec, runtime.ctx);
    server = app.listen(listen.port, listen.host);
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
  } catch (e) {
    await Promise.allSettled([runtime.tasks.close(), runtime.db?.close()]);
    throw e;
  }
  server.keepAliveTimeout = 65_000; // outlive the kernel's pooled sockets, so they are never cut under a request
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');

  let draining: Promise<void> | undefined;
  const drain = (drainMs: number) =>
    (draining ??= (async () => {
      const deadline = setTimeout(() => server.closeAllConnections(), drainMs);
      deadline.unref();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // a keep-alive socket that finishes its last request becomes idle only after close() ran
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      await closed;
      clearInterval(sweep);
      clearTimeout(deadline);
      await Promise.allSettled([runtime.tasks.close(), runtime.db?.close()]);
    })());
  return { port: address.port, drain };
}
