// One kernel per data folder. HUB_DATA_DIR holds the embedded database, the logs and the
// module uids; a second kernel started on it (the README's own "restart with writes on"
// line typed while the first still runs) would adopt the first one's PostgreSQL and stop it
// on its way out. So the kernel holds HUB_DATA_DIR/kernel.lock while it runs.
//
// Hand-written rather than proper-lockfile: that library judges a lock stale by its mtime,
// so a kernel restarted right after a SIGKILL would wait out the stale period; the owner's
// pid plus its start time (against pid reuse) answers at once on the one machine a data
// folder lives on.
import { closeSync, linkSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { HubError } from '../shared/errors.js';

export interface DataDirLock {
  file: string;
  /** Removes the lock if it is still ours. Safe to call twice. */
  release(): void;
}

/** The kernel's clock ticks since boot at which `pid` started (field 22 of /proc/<pid>/stat); null when gone. */
function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may contain spaces and parentheses: count from the last ')'
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function holderOf(file: string): { pid: number; start: string } | null {
  try {
    const [pid, start] = readFileSync(file, 'utf8').trim().split(/\s+/);
    return Number.isInteger(Number(pid)) && start ? { pid: Number(pid), start } : null;
  } catch {
    return null;
  }
}

/**
 * Takes HUB_DATA_DIR/kernel.lock for this process, replacing a lock whose holder is gone.
 * Throws HubError `data_dir_in_use` naming the live holder's pid when another kernel has it.
 */
export function lockDataDir(dataDir: string, pid = process.pid): DataDirLock {
  const file = join(dataDir, 'kernel.lock');
  const me = `${pid} ${startTimeOf(pid) ?? '0'}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    // write a private file, then link it into place: the link fails if a lock exists, so
    // two kernels starting at once cannot both win
    const tmp = `${file}.${pid}.${attempt}`;
    const fd = openSync(tmp, 'w', 0o600);
    writeSync(fd, me);
    closeSync(fd);
    try {
      linkSync(tmp, file);
      unlinkSync(tmp);
      return {
        file,
        release() {
          const h = holderOf(file);
          if (h && h.pid === pid) unlinkSync(file);
        },
      };
    } catch (e) {
      unlinkSync(tmp);
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = holderOf(file);
    // our own pid in the lock is a leftover (a container restarted with the same pid)
    const live = holder !== null && holder.pid !== pid && startTimeOf(holder.pid) === holder.start;
    if (live) {
      throw new HubError('data_dir_in_use',
        `another hub (pid ${holder.pid}) is running on ${dataDir}; stop it first (Ctrl-C in its terminal), or give this one its own HUB_DATA_DIR`);
    }
    try {
      unlinkSync(file); // the holder is gone (killed, machine restarted): its lock is stale
    } catch {
      // another starting kernel removed it first; try again
    }
  }
  throw new HubError('data_dir_in_use', `could not take ${file}: another kernel keeps taking it`);
}
