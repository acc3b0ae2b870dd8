import { readFileSync } from 'node:fs';
// Tests wait on conditions, never on fixed sleeps: waitFor/fatal live in the module test kit
// (shared/testing/wait.ts) and are re-exported here for the hub's own tests.
export { fatal, waitFor } from '../../shared/testing/wait.js';

/**
 * True while the process runs: signal 0 finds it and it is not a zombie. A process that has
 * exited but not yet been reaped (its parent is gone and init reaps on its own schedule —
 * this machine's init does so every ~2 s) still answers signal 0, yet runs no code and holds
 * no port, so it counts as gone.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ...": the state follows the last ')' (comm may itself contain ')')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false; // gone between the two looks
  }
}

/**
 * For a negative property ("no restart storm"): checks `holds` every intervalMs for `ms` and
 * fails at the first break, naming it. An observation window, not a sleep before a check.
 */
export async function staysTrue(holds: () => boolean | Promise<boolean>, { ms, intervalMs = 50, what = 'condition' }: { ms: number; intervalMs?: number; what?: string }): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!(await holds())) throw new Error(`${what} stopped holding after ${ms - (end - Date.now())} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
