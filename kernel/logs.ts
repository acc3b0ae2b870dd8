// Per-module log streams. Every line a child writes is one entry of its module's stream:
// pino JSON lines pass through, plain text is wrapped with module, pid and stream. Each
// stream goes to HUB_DATA_DIR/logs/<name>.log (size-rotated), to an in-memory ring of recent
// lines, to live followers, and to the kernel's console (not to app.log: that is the kernel's own).
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pino, type DestinationStream, type Logger } from 'pino';
import { isValidModuleName } from '../shared/names.js';
import { stripControls, stripControlsDeep } from '../shared/terminal-safe.js';
import type { OutputSink } from './child-process.js';
import { prettyConsole } from './console-format.js';

const RING_SIZE = 1000;
/**
 * Bytes of recent entries kept in memory per module (HUB_LOG_RING_BYTES, default 1 MiB),
 * whatever their count: with lines capped at HUB_LOG_LINE_BYTES this bounds what a
 * module's output can cost the kernel (issue 11, item 8).
 */
const DEFAULT_RING_BYTES = 1024 * 1024;
/** The most lines a reader may ask for; beyond the ring they come from the files. */
export const MAX_TAIL_LINES = 10_000;

/** Bytes of entries a log file queues before writing them synchronously (one flush's worth). */
const QUEUE_BYTES = 256 * 1024;

export interface LogEntry {
  time: string;
  level: number;
  module: string;
  pid: number;
  msg: string;
  [key: string]: unknown;
}

type Follower = (entry: LogEntry) => void;

/**
 * Module lines echoed to the kernel's console per second and module (HUB_LOG_ECHO_PER_SEC,
 * default 200, as a token bucket of one second's worth): the console (and app.log, which the
 * kernel's logger also writes) is for the operator, and a chatty or hostile module must not
 * fill it (issue 14, item 6c: 200 MB of echo in one run). Nothing is lost: every line is in
 * the module's own file; what the echo skipped is counted in one line every 10 s at most.
 */
const DEFAULT_ECHO_PER_SEC = 200;

/**
 * The echo is bounded in bytes too, not only in lines: 200 lines a second of 16 KiB each
 * (HUB_LOG_LINE_BYTES) is still 3 MB/s of console. An echoed message keeps its first
 * ECHO_MSG_CHARS characters, an error its first ECHO_STACK_CHARS of stack; the whole line
 * is in the module's file (hubctl logs).
 */
const ECHO_MSG_CHARS = 1024;
const ECHO_STACK_CHARS = 4096;

function echoText(text: string, max: number, name: string): string {
  return text.length <= max ? text : `${text.slice(0, max)} … [${text.length - max} more characters in hubctl logs ${name}]`;
}

/** A module's `err` for the console: type, message and stack, each cut to size (see ECHO_STACK_CHARS). */
function echoErr(err: unknown): unknown {
  if (typeof err !== 'object' || err === null) return typeof err === 'string' ? echoText(err, ECHO_MSG_CHARS, 'the module') : err;
  const e = err as Record<string, unknown>;
  const cut = (v: unknown, max: number) => (typeof v === 'string' && v.length > max ? `${v.slice(0, max)} … [cut]` : v);
  return { type: cut(e.type, 200), message: cut(e.message, ECHO_MSG_CHARS), stack: cut(e.stack, ECHO_STACK_CHARS) };
}

class EchoBudget {
  private tokens: number;
  private last = Date.now();
  skipped = 0;
  private lastReport = 0;
  constructor(private readonly perSec: number) {
    this.tokens = perSec;
  }
  take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.perSec, this.tokens + ((now - this.last) / 1000) * this.perSec);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.skipped++;
    return false;
  }
  /** The number skipped since the last report, when a report is due (every 10 s at most). */
  report(): number {
    if (this.skipped === 0 || Date.now() - this.lastReport < 10_000) return 0;
    this.lastReport = Date.now();
    const n = this.skipped;
    this.skipped = 0;
    return n;
  }
}

class ModuleStream {
  readonly ring: LogEntry[] = [];
  /** The serialised size of each ring entry, same order as `ring`. */
  readonly sizes: number[] = [];
  ringBytes = 0;
  readonly followers = new Set<Follower>();
  readonly echo: EchoBudget;
  /** The module's own file; null for the kernel's stream, whose file is app.log (written by the kernel's logger). */
  constructor(readonly file: RotatingFile | null, echoPerSec: number) {
    this.echo = new EchoBudget(echoPerSec);
  }
}

/** The stream name of the kernel's own lines (`hubctl logs --kernel`); "kernel" is a reserved module name. */
export const KERNEL_STREAM = 'kernel';

export class LogHub {
  private readonly streams = new Map<string, ModuleStream>();
  private readonly dir: string;
  private readonly limits: RotationLimits;
  private readonly ringBytes: number;
  private readonly echoPerSec: number;

  /** `limits`: the kernel passes its checked config.limits (kernel/config.ts); the defaults are for tests. */
  constructor(dataDir: string, private readonly console: Logger, private readonly echo: boolean, limits: Partial<LogLimits> = {}) {
    this.dir = join(dataDir, 'logs');
    this.limits = { maxBytes: limits.maxBytes ?? DEFAULT_ROTATION.maxBytes, keep: limits.keep ?? DEFAULT_ROTATION.keep };
    this.ringBytes = limits.ringBytes ?? DEFAULT_RING_BYTES;
    this.echoPerSec = limits.echoPerSec ?? DEFAULT_ECHO_PER_SEC;
    mkdirSync(this.dir, { recursive: true });
    this.streams.set(KERNEL_STREAM, new ModuleStream(null, this.echoPerSec));
    // The kernel's own lines: every one to the kernel's stream, and those about a module
    // (a `module` field: compile and migration errors, kills) to that module's stream too,
    // marked `source: "kernel"`, so "see hubctl logs x" leads to them.
    const out = (console as unknown as Record<symbol, { add?: (d: { level: string; stream: DestinationStream }) => void }>)[pino.symbols.streamSym];
    out?.add?.({ level: console.level, stream: { write: (line: string) => this.fromKernel(line) } });
  }

  /** The file a module's stream is written to (rotated copies are <file>.1, .2, ...); app.log for the kernel. */
  fileOf(name: string): string {
    return join(this.dir, name === KERNEL_STREAM ? 'app.log' : `${name}.log`);
  }

  /** One line of the kernel's logger (JSON). Echoed module lines (they carry child_pid) are already in their stream. */
  private fromKernel(line: string): void {
    let e: Record<string, unknown>;
    try {
      // kernel lines quote module text (compile errors, exit reasons): stripped like module lines
      e = stripControlsDeep(JSON.parse(line)) as Record<string, unknown>;
    } catch {
      return;
    }
    if (typeof e !== 'object' || e === null || e.child_pid !== undefined) return;
    const entry = { ...e, time: String(e.time ?? new Date().toISOString()), level: Number(e.level ?? 30), pid: Number(e.pid ?? process.pid), msg: String(e.msg ?? ''), source: 'kernel' };
    this.append(this.streams.get(KERNEL_STREAM)!, { ...entry, module: KERNEL_STREAM });
    const name = e.module;
    if (typeof name === 'string' && name !== KERNEL_STREAM && (this.streams.has(name) || isValidModuleName(name))) {
      this.append(this.stream(name), { ...entry, module: name });
    }
  }

  /** Into the file (if the stream has one), the ring (bounded by count and bytes) and to every follower. */
  private append(s: ModuleStream, entry: LogEntry): void {
    const text = JSON.stringify(entry) + '\n';
    s.file?.write(text);
    s.ring.push(entry);
    s.sizes.push(text.length);
    s.ringBytes += text.length;
    while (s.ring.length > 1 && (s.ring.length > RING_SIZE || s.ringBytes > this.ringBytes)) {
      s.ring.shift();
      s.ringBytes -= s.sizes.shift()!;
    }
    for (const f of s.followers) f(entry);
  }

  private stream(name: string): ModuleStream {
    let s = this.streams.get(name);
    if (!s) {
      const file = new RotatingFile(this.fileOf(name), this.limits, (err) =>
        this.console.error({ err, module: name }, `cannot write the log file of ${name}: ${err.message}`));
      s = new ModuleStream(file, this.echoPerSec);
      this.streams.set(name, s);
    }
    return s;
  }

  /** The sink a child's stdout/stderr lines go to. */
  sink(name: string): OutputSink {
    const s = this.stream(name);
    return (stream, line, pid) => {
      const entry = toEntry(name, stream, line, pid);
      this.append(s, entry);
      if (this.echo) {
        // a module's pino error keeps its stack with its line (kernel/console-format.ts shows it indented)
        const echo = consoleOnly(this.console);
        if (s.echo.take()) {
          const err = entry.err !== undefined ? echoErr(entry.err) : undefined;
          echo[levelName(entry.level)](err !== undefined ? { module: name, child_pid: pid, err } : { module: name, child_pid: pid }, echoText(entry.msg, ECHO_MSG_CHARS, name));
        }
        const skipped = s.echo.report();
        if (skipped > 0) echo.warn({ module: name, child_pid: pid, skipped }, `${skipped} lines of module ${name} not echoed here (over HUB_LOG_ECHO_PER_SEC); all are in hubctl logs ${name}`);
      }
    };
  }

  /** The last `lines` entries: from the ring when it holds enough, else from the log files. */
  recent(name: string, lines: number): LogEntry[] {
    const n = Math.max(0, Math.min(lines, MAX_TAIL_LINES));
    const s = this.streams.get(name);
    const ring = s?.ring ?? [];
    if (n <= ring.length) return ring.slice(ring.length - n);
    // Everything in the ring is in the file once flushed; the files also reach back past
    // kernel restarts, which the ring cannot.
    s?.file?.flush();
    const fromFiles: LogEntry[] = [];
    const kernel = name === KERNEL_STREAM;
    // app.log also holds the echo of module lines (child_pid): the kernel's stream is its own lines
    for (const text of readTail(this.fileOf(name), this.limits.keep, kernel ? MAX_TAIL_LINES : n)) {
      try {
        const e = JSON.parse(text) as LogEntry;
        if (e && typeof e === 'object' && !(kernel && e.child_pid !== undefined)) fromFiles.push(kernel ? { ...e, module: KERNEL_STREAM, source: 'kernel' } : e);
      } catch {
        // a line someone else wrote into the file: not ours to show
      }
    }
    return fromFiles.length > ring.length ? fromFiles.slice(-n) : ring.slice();
  }

  follow(name: string, fn: Follower): () => void {
    const s = this.stream(name);
    s.followers.add(fn);
    return () => s.followers.delete(fn);
  }

  async close(): Promise<void> {
    for (const s of this.streams.values()) s.file?.close();
  }
}

/**
 * One child line as a log entry. Control sequences are stripped here, at ingest, from every
 * string (keys too), so the file, the ring, `hubctl logs`, the dashboard and the kernel's
 * console all get the same clean text.
 */
function toEntry(name: string, stream: 'stdout' | 'stderr', line: string, pid: number): LogEntry {
  if (line.startsWith('{')) {
    try {
      const parsed = stripControlsDeep(JSON.parse(line)) as Partial<LogEntry>;
      if (typeof parsed === 'object' && parsed !== null && typeof parsed.level === 'number') {
        // `source: "kernel"` marks the kernel's own lines ([kernel] in hubctl logs): a module's
        // line never carries it, or a module could speak in the kernel's voice (red team)
        const { source: _forged, ...own } = parsed as Partial<LogEntry> & { source?: unknown };
        return { ...own, time: String(parsed.time ?? new Date().toISOString()), level: parsed.level, module: name, pid, msg: String(parsed.msg ?? '') };
      }
    } catch {
      // not JSON after all: keep it as text
    }
  }
  return { time: new Date().toISOString(), level: stream === 'stderr' ? 50 : 30, module: name, pid, stream, msg: stripControls(line) };
}

/** pino's numeric level as its name. */
export function levelName(level: number): 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' {
  if (level >= 60) return 'fatal';
  if (level >= 50) return 'error';
  if (level >= 40) return 'warn';
  if (level >= 30) return 'info';
  if (level >= 20) return 'debug';
  return 'trace';
}

export interface KernelLoggerOptions {
  dataDir: string;
  level: string;
  /** Human-readable console output (kernel/console-format.ts: a TTY, or LOG_FORMAT=pretty); JSON lines otherwise. */
  pretty: boolean;
  name?: string;
  /** app.log's rotation (HUB_LOG_MAX_BYTES, HUB_LOG_FILES from kernel/config.ts); default 10 MB, 3 copies. */
  rotation?: RotationLimits;
}

/**
 * The kernel's logger: the console (pretty on a TTY, JSON otherwise) plus
 * HUB_DATA_DIR/logs/app.log as JSON lines, rotated like the module logs.
 */
/** The console-only twin of each kernel logger (consoleOnly): module echo goes there, never to app.log. */
const consoleTwins = new WeakMap<Logger, Logger>();

/**
 * Where a module's echoed lines go: the kernel's console, not its app.log. A module's output is
 * its own file's; in the kernel's file a chatty module would rotate the kernel's own lines
 * away (red team: 8 s of output pushed every startup line out of app.log and its 3 copies).
 * Falls back to `log` itself for a logger this file did not make.
 */
export function consoleOnly(log: Logger): Logger {
  return consoleTwins.get(log) ?? log;
}

export function createKernelLogger(opts: KernelLoggerOptions): Logger {
  const level = opts.level;
  const base = { pid: process.pid, name: opts.name ?? 'kernel' };
  // Synchronous stdout: a fatal line written just before process.exit must not be lost.
  const consoleStream: DestinationStream = opts.pretty ? prettyConsole(1) : pino.destination({ dest: 1, sync: true });
  const streams: { level: string; stream: DestinationStream }[] = [{ level, stream: consoleStream }];
  try {
    const dir = join(opts.dataDir, 'logs');
    mkdirSync(dir, { recursive: true });
    const app = new RotatingFile(join(dir, 'app.log'), opts.rotation ?? DEFAULT_ROTATION, (err) =>
      process.stderr.write(`cannot write ${join(dir, 'app.log')}: ${err.message}\n`));
    streams.push({ level, stream: app });
  } catch (e) {
    process.stderr.write(`logging to the console only: cannot create ${join(opts.dataDir, 'logs')}: ${(e as Error).message}\n`);
  }
  const log = pino({ level, base, timestamp: pino.stdTimeFunctions.isoTime }, pino.multistream(streams as Parameters<typeof pino.multistream>[0]));
  consoleTwins.set(log, pino({ level, base, timestamp: pino.stdTimeFunctions.isoTime }, consoleStream));
  return log;
}

// ---------------------------------------------------------------- rotating files

export interface RotationLimits {
  /** Rotate before a write would take the file past this size. */
  maxBytes: number;
  /** Rotated copies kept: <file>.1 (newest) ... <file>.<keep>. */
  keep: number;
}

/** HUB_LOG_MAX_BYTES (default 10 MB) and HUB_LOG_FILES (default 3), unless the config says otherwise. */
export const DEFAULT_ROTATION: RotationLimits = { maxBytes: 10 * 1024 * 1024, keep: 3 };

/** What a LogHub keeps: file rotation, the in-memory ring per module, and the console echo budget. */
export interface LogLimits extends RotationLimits {
  /** HUB_LOG_RING_BYTES: bytes of recent entries kept in memory per module. */
  ringBytes: number;
  /** HUB_LOG_ECHO_PER_SEC: module lines per second and module echoed on the kernel's console. */
  echoPerSec: number;
}

const openFiles = new Set<RotatingFile>();
// Whatever is still queued when the kernel exits (process.exit after stop, a fatal start)
// is written synchronously here: the last lines are the ones that explain the end.
process.on('exit', () => {
  for (const f of openFiles) f.flush();
});

/**
 * An append-only log file that is renamed to <file>.1 (shifting older copies) when it is full.
 * Writes are queued and flushed synchronously once per event-loop turn, whole lines at a
 * time, and rotation happens between two flushed lines: no line is lost or split.
 * Also usable as a pino destination (it has write(string)).
 */
export class RotatingFile {
  private fd: number | null = null;
  private queue: string[] = [];
  private queuedBytes = 0;
  private scheduled = false;
  private lastError = 0;
  /** A write failed: the file may end in half a line. */
  private torn = false;
  /** Lines dropped while the file could not be written (beyond maxBytes waiting). */
  private dropped = 0;
  private retry: NodeJS.Timeout | undefined;

  constructor(readonly path: string, private readonly limits: RotationLimits, private readonly onError: (err: Error) => void) {
    openFiles.add(this);
  }

  write(text: string): boolean {
    this.queue.push(text);
    this.queuedBytes += text.length;
    openFiles.add(this); // a line after close() still reaches the file, and the exit flush
    // a module printing millions of tiny lines fills one event-loop turn with up to 32 pipe
    // reads of 64 KB, each line a ~100-byte entry: queued until setImmediate that was 200+ MB
    // of kernel RSS (red team); past QUEUE_BYTES the queue goes to the file at once
    // (not while a failed write waits for its retry: a full disk would then make every line
    // another failing write)
    if (this.queuedBytes > QUEUE_BYTES && this.retry === undefined) {
      this.flush();
      return true;
    }
    // while waiting for that retry, what waits stays within maxBytes (twice, to trim rarely)
    if (this.retry !== undefined && this.queuedBytes > 2 * this.limits.maxBytes) this.keep([]);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return true;
  }

  /**
   * Closes the descriptor when it no longer is the file at `path` (issue 14, item 6b): an
   * operator removed it (`rm`) or moved it away (logrotate's `mv`). The next write then
   * creates a new file there instead of feeding a deleted or renamed one. One stat per flush.
   */
  private reopenIfMoved(): void {
    if (this.fd === null) return;
    let same = false;
    try {
      const onDisk = statSync(this.path);
      const open = fstatSync(this.fd);
      same = onDisk.ino === open.ino && onDisk.dev === open.dev;
    } catch {
      same = false;
    }
    if (same) return;
    try {
      closeSync(this.fd);
    } catch {
      // already unusable
    }
    this.fd = null;
  }

  flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const parts = this.queue;
    this.queue = [];
    let written = 0; // parts[0..written) are in a file
    this.queuedBytes = 0;
    try {
      this.reopenIfMoved();
      this.fd ??= this.open();
      if (this.torn) this.endTornLine();
      let size = fstatSync(this.fd).size;
      let chunk: Buffer[] = [];
      let chunkBytes = 0;
      for (let i = 0; i < parts.length; i++) {
        const b = Buffer.from(parts[i]!);
        if (size + chunkBytes + b.length > this.limits.maxBytes && size + chunkBytes > 0) {
          this.writeAll(Buffer.concat(chunk));
          written = i;
          this.rotate();
          size = 0;
          chunk = [];
          chunkBytes = 0;
        }
        chunk.push(b);
        chunkBytes += b.length;
      }
      this.writeAll(Buffer.concat(chunk));
      written = parts.length;
      if (this.dropped > 0) {
        const n = this.dropped;
        this.dropped = 0;
        this.onError(new Error(`${n} log lines were dropped while ${this.path} could not be written (over HUB_LOG_MAX_BYTES waiting)`));
      }
    } catch (e) {
      // A full disk or an unwritable folder must not take the kernel down, nor lose the
      // lines: what was not written waits for the next flush (up to maxBytes of it, the
      // oldest dropped and counted beyond), retried within a second. Say so once a minute.
      this.torn = true;
      this.keep(parts.slice(written));
      if (!this.scheduled && this.retry === undefined) {
        this.retry = setTimeout(() => {
          this.retry = undefined;
          this.flush();
        }, 1000);
        this.retry.unref();
      }
      if (Date.now() - this.lastError > 60_000) {
        this.lastError = Date.now();
        this.onError(e as Error);
      }
    }
  }

  /** Puts unwritten lines back in front of the queue, keeping at most maxBytes of them. */
  private keep(unwritten: string[]): void {
    const all = unwritten.concat(this.queue);
    let bytes = 0;
    let from = all.length;
    while (from > 0 && bytes + Buffer.byteLength(all[from - 1]!) <= this.limits.maxBytes) bytes += Buffer.byteLength(all[--from]!);
    this.dropped += from;
    this.queue = from === 0 ? all : all.slice(from);
    this.queuedBytes = bytes;
  }

  /**
   * Opens the file for appending. Its folder is created again when it is gone (issue 14,
   * item 6b: an operator's `rm -rf logs/` or `mv logs logs.old` left every later line with
   * nowhere to go).
   */
  private open(): number {
    try {
      return openSync(this.path, 'a', 0o640);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      mkdirSync(dirname(this.path), { recursive: true });
      return openSync(this.path, 'a', 0o640);
    }
  }

  /** After a failed write the file may end in half a line: end it, so the next line is whole. */
  private endTornLine(): void {
    const size = fstatSync(this.fd!).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      const fd = openSync(this.path, 'r');
      try {
        readSync(fd, last, 0, 1, size - 1);
      } finally {
        closeSync(fd);
      }
      if (last[0] !== 10) this.writeAll(Buffer.from('\n'));
    }
    this.torn = false;
  }

  private writeAll(buf: Buffer): void {
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd!, buf, off, buf.length - off);
  }

  private rotate(): void {
    closeSync(this.fd!);
    this.fd = null;
    const { keep } = this.limits;
    // the file may have been removed under us: nothing to rotate then, just start a new one
    const gone = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';
    try {
      if (keep === 0) {
        unlinkSync(this.path);
      } else {
        for (let i = keep - 1; i >= 1; i--) {
          if (existsSync(`${this.path}.${i}`)) renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
        }
        renameSync(this.path, `${this.path}.1`);
      }
    } catch (e) {
      if (!gone(e)) throw e;
    }
    this.fd = this.open();
  }

  close(): void {
    if (this.retry !== undefined) clearTimeout(this.retry);
    this.retry = undefined;
    this.flush();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    openFiles.delete(this);
  }
}

/** The last `n` lines of <file> and, when it has fewer, of <file>.1, .2, ...; oldest first. */
export function readTail(path: string, keep: number, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i <= keep && out.length < n; i++) {
    const file = i === 0 ? path : `${path}.${i}`;
    if (!existsSync(file)) continue;
    out.unshift(...tailOfFile(file, n - out.length));
  }
  return out;
}

/** Reads backwards in chunks, so a 10 MB file costs only as much as the lines asked for. */
function tailOfFile(file: string, n: number): string[] {
  const fd = openSync(file, 'r');
  try {
    let pos = fstatSync(fd).size;
    const pieces: Buffer[] = [];
    let newlines = 0;
    const chunk = Buffer.alloc(64 * 1024);
    while (pos > 0 && newlines <= n) {
      const len = Math.min(chunk.length, pos);
      pos -= len;
      readSync(fd, chunk, 0, len, pos);
      const piece = Buffer.from(chunk.subarray(0, len));
      for (const byte of piece) if (byte === 10) newlines++;
      pieces.unshift(piece);
    }
    const lines = Buffer.concat(pieces).toString('utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    // A partial first line (we started mid-file) is dropped by taking only the last n.
    return lines.slice(pos > 0 ? Math.max(1, lines.length - n) : Math.max(0, lines.length - n));
  } finally {
    closeSync(fd);
  }
}
