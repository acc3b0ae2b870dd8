// The program every module child runs. It starts empty (possibly long before it is
// needed, as a warm spare), is told over IPC which module to become, serves it on a
// loopback port and reports `ready` with that port. It exits on its own when the kernel's
// channel (fd 3, shared/ipc-channel.ts) goes away, and the kernel's reaper process kills it
// when the kernel is gone while its event loop is blocked (kernel/orphan-reaper.ts): no orphans.
import { Socket } from 'node:net';
import type { ChildToKernel, KernelToChild, ModuleSpec } from '../ipc.js';
import { IPC_FD, IpcChannel } from '../ipc-channel.js';
import { isKernelMessage } from '../ipc.js';
import { createLogger } from '../logger.js';
import { dropPrivileges } from './privileges.js';
import { serveModule, type ServingModule } from './serve.js';
import { takeStats } from './stats.js';
import { guardWorkers } from './worker-guard.js';

// before any module code can run: no Worker may widen the permission model
guardWorkers();

// stdout/stderr are pipes to the kernel, and Node writes to pipes asynchronously: lines still
// queued when a module crashes (its stack trace above all) would be lost. Blocking writes
// cost little at log volumes and keep every line.
for (const stream of [process.stdout, process.stderr]) {
  (stream as unknown as { _handle?: { setBlocking?: (on: boolean) => void } })._handle?.setBlocking?.(true);
}

// No fstatSync(3) here: on Node 20.20 we observed that an fstat of the socket fd before the first ESM import of a
// package made the resolver skip realpath, loading symlinked packages twice (busboy's default
// export came out as {}). Opening the socket is the check: it throws when fd 3 is not ours.
let socket: Socket;
try {
  socket = new Socket({ fd: IPC_FD, readable: true, writable: true });
} catch {
  console.error('shared/runtime/child.js is started by the kernel (with its channel on fd 3); to run one module on its own use `hubctl serve-module`');
  process.exit(2);
}

// what the kernel sends is trusted (an init carries the manifest and config): a wide cap
const channel = new IpcChannel<ChildToKernel>(socket, 64 * 1024 * 1024, {
  onMessage: (msg) => onKernelMessage(msg),
  onClose: () => process.exit(0),
});

const send = (msg: ChildToKernel, done?: () => void) => channel.send(msg, done);

let serving: ServingModule | undefined;

async function become(spec: ModuleSpec): Promise<void> {
  const log = createLogger({ module: spec.name, level: spec.logLevel });
  try {
    // the module's own user before its first line of code runs (uid isolation)
    if (spec.runAs) dropPrivileges(spec.runAs);
    serving = await serveModule(spec, log, { host: '127.0.0.1', port: 0 });
    send({ type: 'ready', port: serving.port });
  } catch (e) {
    const err = e as Error;
    log.error({ err }, `❌ Could not load module ${spec.name}: ${err?.message ?? String(e)}`);
    send({ type: 'load_failed', message: err?.message ?? String(e), stack: err?.stack }, () => process.exit(1));
  }
}

async function drain(drainMs: number): Promise<void> {
  await serving?.drain(drainMs);
  send({ type: 'drained' }, () => process.exit(0));
}

function onKernelMessage(msg: unknown): void {
  if (!isKernelMessage(msg)) return;
  const m = msg as KernelToChild;
  switch (m.type) {
    case 'init':
      void become(m.spec);
      break;
    case 'ping':
      send({ type: 'pong', seq: m.seq, stats: takeStats() });
      break;
    case 'shutdown':
      void drain(m.drainMs);
      break;
  }
}
