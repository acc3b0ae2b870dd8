// One forked child: its IPC, its readiness, its heartbeat, its memory watch and its end.
// The supervisor decides what to do when a child ends; this file only reports how it ended.
import type { ChildProcess } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { DEFAULT_IPC_MAX_BYTES, IpcChannel } from '../shared/ipc-channel.js';
import type { ChildStats, ChildToKernel, KernelToChild, ModuleSpec } from '../shared/ipc.js';
import { listensOn } from './listening-port.js';
import { isChildMessage } from '../shared/ipc.js';
import { DEFAULT_LINE_BYTES, splitLines } from './line-splitter.js';
import { osCpuMicros, osRssBytes, reportedNumber } from './proc-stats.js';

export type ExitReason = 'exit' | 'signal' | 'hang' | 'memory' | 'start_timeout' | 'load_failed' | 'protocol' | 'stopped';

export interface ChildExit {
  reason: ExitReason;
  code: number | null;
  signal: NodeJS.Signals | null;
  message: string;
  uptimeMs: number;
}

export interface ChildTiming {
  startTimeoutMs: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
}

/** What one child may cost the kernel (HUB_IPC_MAX_BYTES, HUB_LOG_LINE_BYTES: config.limits). */
export interface ChildLimits {
  ipcMaxBytes: number;
  logLineBytes: number;
}

export const DEFAULT_CHILD_LIMITS: ChildLimits = { ipcMaxBytes: DEFAULT_IPC_MAX_BYTES, logLineBytes: DEFAULT_LINE_BYTES };

export type OutputSink = (stream: 'stdout' | 'stderr', line: string, pid: number) => void;

/** Shortest window the CPU % of `hubctl status` and the records is measured over. */
const CPU_WINDOW_MS = 2_000;

export class ChildHandle {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly spawnedAt = Date.now();
  port: number | null = null;
  readyAt: number | null = null;
  stats: ChildStats | null = null;
  /** Resolves with the port once the child reports ready; rejects with its ChildExit if it ends first. */
  readonly ready: Promise<number>;
  /** Resolves once the process is gone, however it ended. */
  readonly exited: Promise<ChildExit>;

  private killReason: { reason: ExitReason; message: string } | null = null;
  /** The /proc CPU clock at the start of the current CPU % window. */
  private cpuBase: { at: number; micros: number } | null = null;
  /**
   * The /proc CPU clock when this handle took the process: a warm spare (./spare-pool.ts)
   * has already spent CPU starting Node, which is not this module's and must not count.
   */
  private readonly cpuAtSpawn: number;
  /** The last CPU % the kernel worked out (kept between windows). */
  private cpuPercent: number | undefined;
  private loadError: string | null = null;
  /** The last thing on stderr that looked like an error: the "why" behind a bare exit code. */
  private lastErrorLine: string | null = null;
  private lastPong = Date.now();
  private seq = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private readonly channel: IpcChannel<KernelToChild>;
  private onChildMessage: (raw: unknown) => void = () => undefined;

  private readonly maxMemoryMb: number | undefined;

  constructor(
    spec: ModuleSpec,
    private readonly timing: ChildTiming,
    onOutput: OutputSink,
    spawnChild: (maxMemoryMb: number | undefined) => ChildProcess,
    limits: ChildLimits = DEFAULT_CHILD_LIMITS,
  ) {
    const maxMemoryMb = (this.maxMemoryMb = spec.manifest.max_memory_mb);
    this.proc = spawnChild(maxMemoryMb);
    this.pid = this.proc.pid ?? -1;
    this.cpuAtSpawn = osCpuMicros(this.pid) ?? 0;
    const maxIpc = limits.ipcMaxBytes;
    this.channel = new IpcChannel<KernelToChild>(this.proc.stdio[3] as Duplex, maxIpc, {
      onMessage: (raw) => this.onChildMessage(raw),
      onOversize: (bytes) => this.kill('protocol', `sent an IPC message of more than ${maxIpc} bytes (${bytes} so far); killed`),
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      splitLines(this.proc[stream]!, limits.logLineBytes, (line) => {
        if (stream === 'stderr' && /^(\w+\.)*\w*Error\b/.test(line)) this.lastErrorLine = line.slice(0, 300);
        onOutput(stream, line, this.pid);
      });
    }

    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.clearTimers();
        // 'close' comes once stdout/stderr are drained, so the last lines (the stack trace)
        // are read before the exit is described; a grandchild holding the pipes cannot stall us.
        const done = () => resolve(this.describeExit(code, signal));
        const cap = setTimeout(done, 100);
        this.proc.once('close', () => {
          clearTimeout(cap);
          done();
        });
      });
    });

    this.ready = new Promise<number>((resolve, reject) => {
      this.onChildMessage = (raw: unknown) => {
        if (!isChildMessage(raw)) return;
        const msg = raw as ChildToKernel;
        if (msg.type === 'ready' && this.port === null) {
          // routing follows this port: it must be one the child itself listens on
          if (!listensOn(this.pid, msg.port)) {
            this.kill('protocol', `reported port ${JSON.stringify(msg.port).slice(0, 60)} as ready, which it does not listen on; killed`);
            return;
          }
          this.port = msg.port;
          this.readyAt = Date.now();
          clearTimeout(this.startTimer);
          this.startHeartbeat();
          resolve(msg.port);
        } else if (msg.type === 'pong') {
          this.lastPong = Date.now();
          this.stats = this.observe(msg.stats);
        } else if (msg.type === 'load_failed') {
          this.loadError = String(msg.message).slice(0, 2000);
        }
      };
      void this.exited.then((exit) => reject(exit));
      this.startTimer = setTimeout(
        () => this.kill('start_timeout', `not ready within ${timing.startTimeoutMs} ms; killed`),
        timing.startTimeoutMs,
      );
    });
    this.ready.catch(() => undefined); // callers that never await readiness must not see an unhandled rejection
    this.proc.on('error', () => undefined); // a failed spawn; the exit handler reports it
    this.send({ type: 'init', spec });
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  send(msg: KernelToChild): void {
    this.channel.send(msg);
  }

  kill(reason: ExitReason, message: string): void {
    if (!this.alive) return;
    this.killReason ??= { reason, message };
    this.proc.kill('SIGKILL');
  }

  /** Asks the child to drain; SIGKILL when it has not exited after drainMs (plus a little slack). */
  async stop(drainMs: number): Promise<ChildExit> {
    if (this.alive) {
      this.killReason ??= { reason: 'stopped', message: 'stopped' };
      this.clearTimers();
      this.send({ type: 'shutdown', drainMs });
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), drainMs + 500);
      const exit = await this.exited;
      clearTimeout(timer);
      return exit;
    }
    return this.exited;
  }

  /**
   * Stats as the OS sees them: RSS and CPU time from /proc (the child's own numbers only
   * where there is no /proc); heap and loop lag are the child's word, made finite and
   * non-negative. Kills the child when its OS-measured RSS is above max_memory_mb.
   */
  private observe(reported: Partial<ChildStats> | null): ChildStats {
    const rss = osRssBytes(this.pid) ?? reportedNumber(reported?.rss);
    const osCpu = osCpuMicros(this.pid);
    const stats: ChildStats = {
      rss,
      heapUsed: reportedNumber(reported?.heapUsed),
      loopLagMs: reportedNumber(reported?.loopLagMs),
      cpuMicros: osCpu ?? reportedNumber(reported?.cpuMicros),
    };
    const cpuPercent = this.cpuPercentNow(osCpu);
    if (cpuPercent !== undefined) stats.cpuPercent = cpuPercent;
    const cap = this.maxMemoryMb;
    if (cap && rss > cap * 1024 * 1024) {
      this.kill('memory', `RSS ${Math.round(rss / 1048576)} MB is above max_memory_mb ${cap} (measured by the OS); recycled`);
    }
    return stats;
  }

  /**
   * CPU % of one core over a window of at least CPU_WINDOW_MS, from two /proc readings (the
   * first window starts when this handle took the process, with the clock it had then:
   * zero for a fresh fork, the spare's start-up CPU for a warm spare); undefined without /proc.
   */
  private cpuPercentNow(micros: number | null): number | undefined {
    if (micros === null) return undefined;
    const now = Date.now();
    const base = this.cpuBase ?? { at: this.spawnedAt, micros: this.cpuAtSpawn };
    if (this.cpuBase === null || now - base.at >= CPU_WINDOW_MS) {
      const wall = (now - base.at) * 1000;
      if (wall > 0) this.cpuPercent = Math.max(0, Math.round(((micros - base.micros) / wall) * 1000) / 10);
      this.cpuBase = { at: now, micros };
    }
    return this.cpuPercent;
  }

  private startHeartbeat(): void {
    this.lastPong = Date.now();
    this.send({ type: 'ping', seq: ++this.seq }); // stats (memory) right away, not one interval later
    this.heartbeat = setInterval(() => {
      // memory is checked on the kernel's clock, whatever the child answers
      this.stats = this.observe(this.stats);
      const silence = Date.now() - this.lastPong;
      if (silence > this.timing.heartbeatTimeoutMs) {
        this.kill('hang', `no heartbeat for ${silence} ms (event loop blocked?); killed`);
        return;
      }
      this.send({ type: 'ping', seq: ++this.seq });
    }, this.timing.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  private clearTimers(): void {
    clearInterval(this.heartbeat);
    clearTimeout(this.startTimer);
  }

  private describeExit(code: number | null, signal: NodeJS.Signals | null): ChildExit {
    // uptime counts from ready: a child that never got ready has had no run at all (issue 13 item 1)
    const uptimeMs = this.readyAt ? Date.now() - this.readyAt : 0;
    if (this.killReason) return { ...this.killReason, code, signal, uptimeMs };
    if (this.loadError !== null) {
      return { reason: 'load_failed', code, signal, uptimeMs, message: `could not load: ${this.loadError}` };
    }
    const why = this.lastErrorLine ? `: ${this.lastErrorLine}` : '';
    if (signal) return { reason: 'signal', code, signal, uptimeMs, message: `killed by ${signal}${why}` };
    return { reason: 'exit', code, signal, uptimeMs, message: `exited with code ${code}${why}` };
  }
}
