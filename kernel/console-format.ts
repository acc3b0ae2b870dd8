// The kernel's console for a person at a terminal: one line per event — time, level,
// [module], message, then the other fields as key=value — with an error's stack kept
// together, indented under its line. JSON lines (one object per line, as in app.log)
// when stdout is not a TTY, or when LOG_FORMAT=json asks for it; LOG_FORMAT=pretty forces
// this format. Written here rather than with pino-pretty, a dev dependency: production
// installs (npm ci --omit=dev) get the same console.
import { writeSync } from 'node:fs';
import type { DestinationStream } from 'pino';
import pc from 'picocolors';

export type ConsoleFormat = 'pretty' | 'json';

/** LOG_FORMAT=json|pretty (config.limits.logFormat, checked in kernel/config.ts) wins; otherwise pretty on a TTY and JSON elsewhere (pipes, files, journald). */
export function consoleFormat(asked: ConsoleFormat | undefined, isTTY = process.stdout.isTTY === true): ConsoleFormat {
  return asked ?? (isTTY ? 'pretty' : 'json');
}

/** pino's numeric levels as a fixed-width label and a colour, lowest first match wins; shared with `hubctl logs`. */
export const LEVELS: [number, string, (s: string) => string][] = [
  [60, 'FATAL', (s) => pc.bgRed(pc.white(s))],
  [50, 'ERROR', pc.red],
  [40, 'WARN ', pc.yellow],
  [30, 'INFO ', pc.green],
  [20, 'DEBUG', pc.blue],
  [0, 'TRACE', pc.dim],
];

/** Fields every line has, or that the format shows in its own place. */
const SHOWN = new Set(['time', 'level', 'msg', 'pid', 'hostname', 'name', 'module', 'err', 'v']);

function clock(time: unknown): string {
  const d = new Date(typeof time === 'string' || typeof time === 'number' ? time : NaN);
  if (Number.isNaN(d.getTime())) return '--:--:--.---';
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function value(v: unknown): string {
  if (typeof v === 'string') return /[\s="]/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v) ?? String(v);
}

/** The fields of a log entry that no place of its own shows, as `key=value` (shared with `hubctl logs`). */
export function otherFields(e: Record<string, unknown>, alsoShown: ReadonlySet<string> = new Set()): string {
  return Object.entries(e)
    .filter(([k]) => !SHOWN.has(k) && !alsoShown.has(k))
    .map(([k, v]) => `${pc.dim(`${k}=`)}${value(v)}`)
    .join(' ');
}

/** One pino JSON line as a readable line (plus its stack lines); a line that is not JSON comes back as it is. */
export function formatLine(line: string): string {
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.replace(/\n$/, '');
  }
  const level = typeof e.level === 'number' ? e.level : 30;
  const [, label, colour] = LEVELS.find(([min]) => level >= min) ?? LEVELS[3]!;
  const who = typeof e.module === 'string' ? `${pc.cyan(`[${e.module}]`)} ` : '';
  const rest = otherFields(e);
  let out = `${pc.dim(clock(e.time))} ${colour(label)} ${who}${String(e.msg ?? '')}${rest ? ` ${rest}` : ''}`;
  const err = e.err as { stack?: unknown; message?: unknown } | string | undefined;
  if (err && typeof err === 'object' && typeof err.stack === 'string') {
    // a module's stack reaches us with its newlines stripped (control characters, at
    // ingest): its frames are split again at "    at "
    const frames = err.stack.split(/\n|\s{4}(?=at )/).map((l) => l.trim()).filter(Boolean);
    out += '\n' + frames.map((l, i) => `${i === 0 ? '    ' : '        '}${pc.dim(l)}`).join('\n');
  } else if (typeof err === 'string') {
    out += ` ${pc.dim('err=')}${value(err)}`;
  }
  return out;
}

/** A pino destination writing formatLine() output synchronously to `fd` (default stdout). */
export function prettyConsole(fd = 1): DestinationStream {
  return {
    write(line: string) {
      const buf = Buffer.from(formatLine(line) + '\n');
      let off = 0;
      while (off < buf.length) {
        try {
          off += writeSync(fd, buf, off, buf.length - off);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return; // a closed terminal: nothing to do
        }
      }
    },
  };
}
