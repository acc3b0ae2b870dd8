// Whether a process really listens on the port it says: the kernel routes a module's traffic
// to the port its child reports as ready, and a child that named the admin origin's port, the
// kernel's own public port or another module's would otherwise have requests (and the
// credentials on them) sent there. Read from the OS: the child's socket inodes in
// /proc/<pid>/fd against the listening sockets in its /proc/<pid>/net/tcp{,6}.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Socket inodes among the open descriptors of `pid` (root, or the same user, can read them). */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/**
 * True when `pid` holds a TCP socket in LISTEN state on local `port` (any address, IPv4 or
 * IPv6). False when it does not, when the port is not an integer in 1–65535, or when /proc
 * cannot be read for it (a process that is gone).
 */
export function listensOn(pid: number, port: unknown): boolean {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return false;
  try {
    const mine = socketInodes(pid);
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    for (const table of ['tcp', 'tcp6']) {
      let text: string;
      try {
        text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
        const f = line.trim().split(/\s+/);
        if (f.length < 10) continue;
        if (f[3] === '0A' && f[1]!.endsWith(`:${hexPort}`) && mine.has(f[9]!)) return true;
      }
    }
    return false;
  } catch {
    return false;
  }
}
