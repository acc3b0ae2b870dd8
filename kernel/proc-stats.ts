// What the OS says about a child: resident memory and CPU time read from /proc, never
// from the child's own heartbeat (a module can report any number it likes; issue 11,
// item 9). Off Linux (no /proc) these return null and the caller falls back.
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times; 100 on every Linux Node supports. */
const CLK_TCK = 100;

/** Resident set size of `pid` in bytes (VmRSS from /proc/<pid>/status), or null if unreadable. */
export function osRssBytes(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** User+system CPU time of `pid` in microseconds (/proc/<pid>/stat fields 14 and 15), or null. */
export function osCpuMicros(pid: number): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // the command name (field 2) is in parentheses and may contain spaces: count after its ')'
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? ((utime + stime) * 1e6) / CLK_TCK : null;
  } catch {
    return null;
  }
}

/** A number a child reported, made safe to show and add up: finite, not negative, else 0. */
export function reportedNumber(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0;
}
