// The body of the orphan watchdog (./orphan-watchdog.ts): a worker thread, so it runs
// whatever the child's main thread is doing. When the child's parent changes (the kernel
// died and the child was re-parented to init or a subreaper), the child kills itself.
import { workerData } from 'node:worker_threads';

const { parentPid, intervalMs } = workerData as { parentPid: number; intervalMs: number };

setInterval(() => {
  if (process.ppid !== parentPid) process.kill(process.pid, 'SIGKILL');
}, intervalMs);
