// pino, set up the same way in the kernel and in every child.
// Children always write JSON lines to stdout: the kernel captures them per module,
// so a child never decides how logs look on the operator's console.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { name?: string; module?: string; level?: string; pretty?: boolean } = {}): Logger {
  const level = opts.level ?? process.env.LOG_LEVEL ?? 'info';
  const base: Record<string, unknown> = { pid: process.pid };
  if (opts.module) base.module = opts.module;
  if (opts.name) base.name = opts.name;
  if (opts.pretty) {
    return pino({
      level,
      base,
      transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' } },
    });
  }
  return pino({ level, base, timestamp: pino.stdTimeFunctions.isoTime });
}
