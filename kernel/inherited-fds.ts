// File descriptors the kernel inherited from whatever started it (a shell's redirect, a
// supervisor's socket, a wrapper's secret file) and that were not marked close-on-exec would
// pass into every process the kernel starts: module children under their own uid, esbuild,
// PostgreSQL. Node and libuv open everything of their own with O_CLOEXEC, so at start every
// descriptor above stderr without that flag is an inheritance, and the kernel closes it
// (red team, issue 11: a write end at fd 251 from the launching shell reached every child).
import { closeSync, readdirSync, readFileSync } from 'node:fs';

/** O_CLOEXEC as /proc/<pid>/fdinfo/<fd> shows it in its octal `flags:` line (Linux). */
const O_CLOEXEC = 0o2000000;

/**
 * Whether an fdinfo text (`/proc/self/fdinfo/<fd>`) says close-on-exec. Text without a
 * `flags:` line counts as close-on-exec, so nothing unknown is closed.
 */
export function isCloseOnExec(fdinfo: string): boolean {
  const m = /^flags:\s*([0-7]+)$/m.exec(fdinfo);
  return m ? (parseInt(m[1]!, 8) & O_CLOEXEC) !== 0 : true;
}

/**
 * Closes every descriptor above 2 that this process inherited without close-on-exec, except
 * the IPC channel to a parent, when there is one. Returns the numbers closed. Does nothing
 * where /proc is not there. Call first thing at start, before the process opens files.
 */
export function closeInheritedFds(): number[] {
  const channelFd = (process.channel as unknown as { fd?: number } | undefined)?.fd;
  const keep = typeof channelFd === 'number' ? [channelFd] : [];
  let fds: number[];
  try {
    fds = readdirSync('/proc/self/fdinfo').map(Number).filter((fd) => Number.isInteger(fd) && fd > 2 && !keep.includes(fd));
  } catch {
    return [];
  }
  const closed: number[] = [];
  for (const fd of fds) {
    let info: string;
    try {
      info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // the directory's own descriptor, gone by now
    }
    if (isCloseOnExec(info)) continue;
    try {
      closeSync(fd);
      closed.push(fd);
    } catch {
      // already closed
    }
  }
  return closed;
}
