// What a module process reports about itself: with every heartbeat to the kernel, and
// over HTTP when the module runs on its own (remote modules are scraped for it).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ChildStats } from '../ipc.js';

const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();

/** Current stats; the event-loop lag is the worst seen since the previous call. */
export function takeStats(): ChildStats {
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  const stats = { rss: mem.rss, heapUsed: mem.heapUsed, loopLagMs: loopDelay.max / 1e6, cpuMicros: cpu.user + cpu.system };
  loopDelay.reset();
  return stats;
}
