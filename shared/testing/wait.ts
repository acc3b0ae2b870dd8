import { readFileSync } from 'node:fs';
// Waiting on a condition instead of sleeping: polls until the check gives a truthy value or
// the deadline passes. Shared by the module test kit (bmc-hub/testing) and the hub's own tests.

/**
 * Polls `check` every `intervalMs` until it returns a truthy value, which it returns. A check
 * that throws is retried, unless it throws fatal(...). Past `timeoutMs` it throws an Error
 * naming `what` and the last value or error seen.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 20_000, intervalMs = 50, what = 'condition' }: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      if ((e as { fatal?: boolean })?.fatal) throw e;
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String((last as Error)?.message ?? JSON.stringify(last))})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** An error that stops waitFor at once instead of being retried (the thing waited on is gone). */
export function fatal(message: string): Error {
  return Object.assign(new Error(message), { fatal: true });
}

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
