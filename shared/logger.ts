// pino, set up the same way in the kernel and in every child.
// Children always write JSON lines to stdout, synchronously: the kernel captures them per
// module, so a child never decides how logs look on the operator's console.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { name?: string; module?: string; level?: string } = {}): Logger {
  const level = opts.level ?? process.env.LOG_LEVEL ?? 'info';
  const base: Record<string, unknown> = { pid: process.pid };
  if (opts.module) base.module = opts.module;
  if (opts.name) base.name = opts.name;
  // Synchronous writes (issue 14, item 6a): a line is in the kernel's pipe when the call
  // returns, so lines logged just before the event loop blocks (and the kernel hang-kills
  // the child) or before a crash are never left in a buffer that dies with the process.
  return pino({ level, base, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 1, sync: true }));
}
