// Tests wait on conditions, never on fixed sleeps: waitFor/fatal live in the module test kit
// (shared/testing/wait.ts) and are re-exported here for the hub's own tests.
export { fatal, pidAlive, waitFor } from '../../shared/testing/wait.js';

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
