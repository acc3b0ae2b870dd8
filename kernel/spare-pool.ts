// Warm spare children: processes that have already started Node and loaded the module
// runtime (express, pino), waiting to be told which module to become. Handing a
// crashed module a spare skips the ~150-250 ms of process start and imports, which is
// most of the time a restart takes. Only children with the default Node flags can be
// spares; a module with its own heap cap (max_memory_mb) is forked fresh.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { CHILD_ENTRY } from '../shared/paths.js';
import { childEnvironment, childExecArgv } from './child-env.js';
import { orphanReaper } from './orphan-reaper.js';

/**
 * Starts the child program. Its channel to the kernel is fd 3 (shared/ipc-channel.ts), a
 * plain pipe with length-capped frames, not Node's 'ipc' channel.
 */
export function forkChild(execArgv: string[]): ChildProcess {
  const proc = spawn(process.execPath, [...execArgv, CHILD_ENTRY], {
    env: childEnvironment(),
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  // killed by the reaper if this kernel dies before it (./orphan-reaper.ts); a failed spawn has no pid
  orphanReaper.watch(proc.pid);
  proc.once('exit', () => orphanReaper.unwatch(proc.pid));
  return proc;
}

/** The child is alive and its channel still open. */
function usable(p: ChildProcess): boolean {
  const channel = p.stdio[3] as Socket | null;
  return p.exitCode === null && p.signalCode === null && channel !== null && !channel.destroyed;
}

export class SparePool {
  private spares: ChildProcess[] = [];
  private readonly leaving = new WeakMap<ChildProcess, () => void>();
  private closed = false;
  private readonly defaultArgv: string[];

  /** `readPaths`: what children may read (null: no permission model). */
  constructor(private readonly size: number, private readonly readPaths: string[] | null) {
    this.defaultArgv = childExecArgv(undefined, readPaths);
  }

  /** Fills the pool; call once the kernel is up so spares never slow the first start. */
  fill(): void {
    while (!this.closed && this.spares.length < this.size) {
      const proc = forkChild(this.defaultArgv);
      proc.on('error', () => undefined);
      const gone = () => {
        this.spares = this.spares.filter((p) => p !== proc);
      };
      proc.once('exit', gone);
      this.leaving.set(proc, gone);
      this.spares.push(proc);
    }
  }

  /** A live spare when the module needs no flags of its own (a heap cap), else a fresh fork. */
  take(maxMemoryMb: number | undefined): ChildProcess {
    if (maxMemoryMb === undefined) {
      const spare = this.spares.shift();
      if (spare && usable(spare)) {
        // the pool's own listener only: the reaper's stays (forkChild)
        const gone = this.leaving.get(spare);
        if (gone) spare.off('exit', gone);
        // refill after the current restart, not during it: two forks at once would slow both
        setTimeout(() => this.fill(), 250).unref();
        return spare;
      }
    }
    return forkChild(childExecArgv(maxMemoryMb, this.readPaths));
  }

  close(): void {
    this.closed = true;
    for (const p of this.spares.splice(0)) p.kill('SIGKILL');
  }
}
