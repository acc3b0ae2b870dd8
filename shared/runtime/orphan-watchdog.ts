// A module child must not outlive its kernel (issue 14, item 5). Closing fd 3 wakes the
// child's event loop, which exits, but a loop that is blocked (a module spinning at 100 %
// CPU) never sees it, and PR_SET_PDEATHSIG is out of Node's reach. A watchdog thread polls
// the parent pid instead and SIGKILLs its own process when the kernel is gone: a child may
// always signal itself, even after it has dropped to its module's uid.
import { Worker } from 'node:worker_threads';

/**
 * Starts the watchdog for the current parent. `intervalMs` (default 250) bounds how long an
 * orphan lives: about one interval after the kernel's death. Call before guardWorkers()
 * and before any module code; the thread does not keep the process alive.
 */
export function startOrphanWatchdog(intervalMs = 250): Worker | null {
  const parentPid = process.ppid;
  if (parentPid <= 1) return null; // already an orphan, or run by init on purpose
  const worker = new Worker(new URL('./orphan-watchdog-thread.js', import.meta.url), {
    workerData: { parentPid, intervalMs },
    resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 2, stackSizeMb: 1 },
  });
  worker.unref();
  worker.on('error', () => undefined);
  return worker;
}
