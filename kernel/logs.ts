// Per-module log streams. Every line a child writes is one entry of its module's stream:
// pino JSON lines pass through, plain text is wrapped with module, pid and stream. Each
// stream goes to HUB_DATA_DIR/logs/<name>.log, to an in-memory ring of recent lines, to
// live followers, and to the kernel's console.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { OutputSink } from './child-process.js';

const RING_SIZE = 1000;

export interface LogEntry {
  time: string;
  level: number;
  module: string;
  pid: number;
  msg: string;
  [key: string]: unknown;
}

type Follower = (entry: LogEntry) => void;

class ModuleStream {
  readonly ring: LogEntry[] = [];
  readonly followers = new Set<Follower>();
  file: WriteStream | undefined;
}

export class LogHub {
  private readonly streams = new Map<string, ModuleStream>();
  private readonly dir: string;

  constructor(dataDir: string, private readonly console: Logger, private readonly echo: boolean) {
    this.dir = join(dataDir, 'logs');
    mkdirSync(this.dir, { recursive: true });
  }

  private stream(name: string): ModuleStream {
    let s = this.streams.get(name);
    if (!s) {
      s = new ModuleStream();
      s.file = createWriteStream(join(this.dir, `${name}.log`), { flags: 'a' });
      s.file.on('error', (err) => this.console.error({ err, module: name }, `cannot write the log file of ${name}`));
      this.streams.set(name, s);
    }
    return s;
  }

  /** The sink a child's stdout/stderr lines go to. */
  sink(name: string): OutputSink {
    const s = this.stream(name);
    return (stream, line, pid) => {
      const entry = toEntry(name, stream, line, pid);
      const text = JSON.stringify(entry);
      s.file?.write(text + '\n');
      s.ring.push(entry);
      if (s.ring.length > RING_SIZE) s.ring.shift();
      for (const f of s.followers) f(entry);
      if (this.echo) this.console[levelName(entry.level)]({ module: name, child_pid: pid }, entry.msg);
    };
  }

  recent(name: string, lines: number): LogEntry[] {
    const ring = this.streams.get(name)?.ring ?? [];
    return ring.slice(Math.max(0, ring.length - lines));
  }

  follow(name: string, fn: Follower): () => void {
    const s = this.stream(name);
    s.followers.add(fn);
    return () => s.followers.delete(fn);
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.streams.values()].map((s) => new Promise<void>((resolve) => (s.file ? s.file.end(resolve) : resolve()))),
    );
  }
}

function toEntry(name: string, stream: 'stdout' | 'stderr', line: string, pid: number): LogEntry {
  if (line.startsWith('{')) {
    try {
      const parsed = JSON.parse(line) as Partial<LogEntry>;
      if (typeof parsed === 'object' && parsed !== null && typeof parsed.level === 'number') {
        return { ...parsed, time: String(parsed.time ?? new Date().toISOString()), level: parsed.level, module: name, pid, msg: String(parsed.msg ?? '') };
      }
    } catch {
      // not JSON after all: keep it as text
    }
  }
  return { time: new Date().toISOString(), level: stream === 'stderr' ? 50 : 30, module: name, pid, stream, msg: line };
}

function levelName(level: number): 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' {
  if (level >= 60) return 'fatal';
  if (level >= 50) return 'error';
  if (level >= 40) return 'warn';
  if (level >= 30) return 'info';
  if (level >= 20) return 'debug';
  return 'trace';
}
