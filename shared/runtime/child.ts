// The program every module child runs. It starts empty, is told over IPC which
// module to become, serves it on a loopback port, and reports `ready` with that port.
// It exits on its own when the kernel's IPC channel goes away, so a killed kernel
// leaves no orphans behind.
import type { Server } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ChildToKernel, KernelToChild, ModuleSpec } from '../ipc.js';
import { isKernelMessage } from '../ipc.js';
import { createLogger } from '../logger.js';
import { buildModuleApp } from './module-app.js';
import { createContext, type RuntimeContext } from './context.js';

if (!process.send) {
  console.error('shared/runtime/child.js is started by the kernel (with an IPC channel); to run one module on its own use `hubctl serve-module`');
  process.exit(2);
}

const send = (msg: ChildToKernel) => {
  if (process.connected) process.send!(msg);
};

let server: Server | undefined;
let runtime: RuntimeContext | undefined;
let draining = false;
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();

async function become(spec: ModuleSpec): Promise<void> {
  const log = createLogger({ module: spec.name, level: spec.logLevel });
  try {
    runtime = createContext(spec, log);
    const app = await buildModuleApp(spec, runtime.ctx);
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      server!.once('listening', resolve);
      server!.once('error', reject);
    });
    server.keepAliveTimeout = 65_000; // outlive the kernel's pooled sockets, so they are never cut under a request
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
    send({ type: 'ready', port: address.port });
  } catch (e) {
    const err = e as Error;
    log.error({ err }, `❌ Could not load module ${spec.name}: ${err?.message ?? String(e)}`);
    send({ type: 'load_failed', message: err?.message ?? String(e), stack: err?.stack });
    setImmediate(() => process.exit(1));
  }
}

async function drain(drainMs: number): Promise<void> {
  if (draining) return;
  draining = true;
  const deadline = setTimeout(() => server?.closeAllConnections(), drainMs);
  deadline.unref();
  if (server) {
    const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
    server.closeIdleConnections();
    // A keep-alive socket that finishes its last request becomes idle only after close() ran.
    const sweep = setInterval(() => server?.closeIdleConnections(), 50);
    await closed;
    clearInterval(sweep);
  }
  await Promise.allSettled([runtime?.tasks.close(), runtime?.db?.close()]);
  send({ type: 'drained' });
  process.exit(0);
}

process.on('message', (msg: unknown) => {
  if (!isKernelMessage(msg)) return;
  const m = msg as KernelToChild;
  switch (m.type) {
    case 'init':
      void become(m.spec);
      break;
    case 'ping': {
      const mem = process.memoryUsage();
      const cpu = process.cpuUsage();
      send({
        type: 'pong',
        seq: m.seq,
        stats: { rss: mem.rss, heapUsed: mem.heapUsed, loopLagMs: loopDelay.max / 1e6, cpuMicros: cpu.user + cpu.system },
      });
      loopDelay.reset();
      break;
    }
    case 'shutdown':
      void drain(m.drainMs);
      break;
  }
});

process.on('disconnect', () => process.exit(0));
