// A module child must not outlive its kernel (issue 14, item 5), even one whose event loop is
// blocked (a module spinning at 100 % CPU never sees its channel close). PR_SET_PDEATHSIG is
// out of Node's reach, and a watchdog thread in every child cost each one a second V8 isolate
// (about 7.5 MB of private memory, issue 17). Instead the kernel keeps one tiny reaper
// process: a POSIX shell reading "+ <pid>" / "- <pid>" lines on a pipe from the kernel. When
// the kernel dies, however it dies, the pipe's write end closes; the reaper reads EOF and
// SIGKILLs every child still listed. It ignores SIGINT/SIGTERM/SIGHUP (a Ctrl-C reaches the
// whole process group; the kernel then stops its children itself and closes the pipe). It runs
// as the kernel's user, so it may kill children that dropped to a module's uid.
import { spawn, type ChildProcess } from 'node:child_process';

// `pids` holds " 12 34 56 "; removal splices out the first " <pid> ".
const SCRIPT = `trap '' INT TERM HUP
pids=' '
while read -r op pid; do
  case "$op $pid" in
    '+ '[0-9]*) pids="$pids$pid " ;;
    '- '[0-9]*) case "$pids" in *" $pid "*) pids="\${pids%% $pid *} \${pids#* $pid }" ;; esac ;;
  esac
done
[ "$pids" = ' ' ] || kill -9 $pids 2>/dev/null
exit 0`;

/** The kernel's reaper: `watch` a child's pid when it is forked, `unwatch` it when it has exited. */
export class OrphanReaper {
  private proc: ChildProcess | null = null;
  private readonly pids = new Set<number>();

  /** Lists `pid` for killing when the kernel dies; starts the reaper on first use. */
  watch(pid: number | undefined): void {
    if (pid === undefined) return;
    this.pids.add(pid);
    this.send(`+ ${pid}\n`);
  }

  /** The child has exited (and been reaped): its pid may be reused, so it leaves the list. */
  unwatch(pid: number | undefined): void {
    if (pid === undefined || !this.pids.delete(pid)) return;
    this.send(`- ${pid}\n`);
  }

  private send(line: string): void {
    const proc = this.proc ?? this.start();
    proc.stdin?.write(line);
  }

  /** Spawns the reaper with the current list; a reaper that dies is replaced (100 ms later) while children are listed. */
  private start(): ChildProcess {
    const proc = spawn('/bin/sh', ['-c', SCRIPT], { stdio: ['pipe', 'ignore', 'ignore'] });
    this.proc = proc;
    proc.on('error', () => undefined);
    proc.stdin!.on('error', () => undefined);
    // killed by someone (a module in the process tier shares the kernel's uid): back within
    // 100 ms with the current list, so there is never a long window without one
    proc.once('exit', () => {
      if (this.proc !== proc) return;
      this.proc = null;
      if (this.pids.size > 0) setTimeout(() => this.proc ?? this.start(), 100).unref();
    });
    // neither the process nor its pipe keeps the kernel alive
    proc.unref();
    (proc.stdin as unknown as { unref?: () => void }).unref?.();
    for (const pid of this.pids) proc.stdin!.write(`+ ${pid}\n`);
    return proc;
  }
}

/** The one reaper of this kernel process. */
export const orphanReaper = new OrphanReaper();
