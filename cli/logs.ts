// `hubctl logs <name> [-f] [-n N] [--json]`: one module's log, as `time level msg` lines or
// raw NDJSON, the kernel's lines about the module marked [kernel]; `hubctl logs --kernel`:
// the kernel's own. Follow reads the hub's NDJSON stream until Ctrl-C or the hub goes away.
import type { HubClient } from './client.js';
import { CliError, EXIT } from './errors.js';
import { pc } from './format.js';
import { stripControls, stripControlsDeep } from '../shared/terminal-safe.js';
import { checkName } from './module-commands.js';
import { LEVELS, otherFields } from '../kernel/console-format.js';

export const MAX_LINES = 10_000;

export function parseCount(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isInteger(n) || n > MAX_LINES) {
    throw new CliError(`-n wants a whole number from 0 to ${MAX_LINES}, got ${JSON.stringify(raw).slice(0, 40)}`, EXIT.usage);
  }
  return n;
}

interface Entry {
  time?: string;
  level?: number;
  msg?: string;
  stream?: string;
  err?: { type?: string; message?: string; stack?: string } | string;
  [key: string]: unknown;
}


function clock(time: string | undefined): string {
  const d = time ? new Date(time) : new Date(NaN);
  if (Number.isNaN(d.getTime())) return String(time ?? '').padEnd(12).slice(0, 12);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** `source` and `stream` are said by the [kernel] mark and the command itself. */
const MARKED = new Set(['source', 'stream']);

/**
 * One entry as `time level [kernel] msg key=value…`: the fields besides the message (which
 * migration file, which pid, a module's own `ctx.log({ id }, …)`) are shown as the kernel's
 * console shows them. `kernelLog`: an entry of the kernel's own log, whose `module` (the
 * module a line is about) is shown as `[name]`.
 */
export function formatEntry(e: Entry, kernelLog = false): string {
  const [, label, colour] = LEVELS.find(([min]) => (e.level ?? 30) >= min) ?? LEVELS[3]!;
  // the kernel's lines about a module, in that module's log: marked, so they are not taken for the module's own
  const from = kernelLog
    ? typeof e.module === 'string' ? `${pc.cyan(`[${e.module}]`)} ` : ''
    : e.source === 'kernel' && e.module !== 'kernel' ? `${pc.magenta('[kernel]')} ` : '';
  const rest = otherFields(e, MARKED);
  let line = `${pc.dim(clock(e.time))} ${colour(label)} ${from}${e.msg ?? ''}${rest ? ` ${rest}` : ''}`;
  // pino puts a thrown error in `err`; its stack is the part worth reading
  if (typeof e.err === 'object' && e.err?.stack) line += '\n' + e.err.stack.split('\n').map((l) => `    ${l}`).join('\n');
  else if (e.err !== undefined && e.err !== null) line += ` ${pc.dim('err=')}${typeof e.err === 'string' ? e.err : JSON.stringify(e.err)}`;
  return line;
}

/**
 * `hubctl logs <name>` (the module's lines and the kernel's lines about it) or
 * `hubctl logs --kernel` (the kernel's own log). Exit code usage (2) for neither or both.
 */
export async function logs(client: HubClient, rawName: string | undefined, opts: { follow?: boolean; lines?: number; json?: boolean; kernel?: boolean }): Promise<void> {
  if (opts.kernel && rawName !== undefined) throw new CliError('give a module name or --kernel, not both', EXIT.usage);
  if (!opts.kernel && rawName === undefined) throw new CliError('which log? give a module name (hubctl logs notes) or --kernel', EXIT.usage);
  const name = opts.kernel ? 'kernel' : checkName(rawName!);
  const query = new URLSearchParams({ lines: String(opts.lines ?? 100) });
  if (opts.follow) query.set('follow', '1');
  // Ctrl-C is how a follow ends: that is success, not an interruption
  if (opts.follow) process.once('SIGINT', () => process.exit(0));
  const path = opts.kernel ? `/api/v1/kernel/logs?${query}` : `/api/v1/modules/${encodeURIComponent(name)}/logs?${query}`;
  const res = await client.stream(path);
  if (!res.body) return;
  const decoder = new TextDecoder();
  let buffered = '';
  const emit = (line: string) => {
    if (line.trim() === '') return; // keep-alive
    // the kernel strips control sequences at ingest; log files from older kernels may not
    // have been, and a module's bytes never reach the operator's terminal raw
    if (opts.json) {
      process.stdout.write(stripControls(line) + '\n');
      return;
    }
    try {
      process.stdout.write(formatEntry(stripControlsDeep(JSON.parse(line)) as Entry, opts.kernel === true) + '\n');
    } catch {
      process.stdout.write(stripControls(line) + '\n');
    }
  };
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const p of parts) emit(p);
    }
  } catch (e) {
    if (!opts.follow) throw new CliError(`the log stream from ${client.baseUrl} broke off: ${(e as Error).message}, try again`);
  }
  if (buffered) emit(buffered);
  if (opts.follow) throw new CliError(`the hub at ${client.baseUrl} closed the log stream (stopped?), run hubctl logs ${name} -f again once it is up`, EXIT.unreachable);
}
